"""Imports every domain's tables so the metadata (and Alembic) knows them all."""

from app.catalog.models import Journey, JourneyEvent
from app.realtime.models import OutboxEvent
from app.tenancy.models import ApiKey, Tenant, User

__all__ = ["ApiKey", "Journey", "JourneyEvent", "OutboxEvent", "Tenant", "User"]
