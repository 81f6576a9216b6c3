"""Imports every domain's tables so the metadata (and Alembic) knows them all."""

from app.avatars.models import Avatar, AvatarSession, LiveKitWebhookDelivery
from app.catalog.models import Journey, JourneyEvent
from app.onboarding.models import Classification, Onboarding, OnboardingJourney, OnboardingLog, OnboardingStep
from app.progress.models import EventInstance, JourneyInstance, JourneyLog
from app.realtime.models import AblyCursor, OutboxEvent
from app.rewards.models import Reward, RewardUnlock, XpEntry
from app.tenancy.models import ApiKey, Tenant, User

__all__ = [
    "AblyCursor",
    "ApiKey",
    "Avatar",
    "AvatarSession",
    "Classification",
    "EventInstance",
    "Journey",
    "JourneyEvent",
    "JourneyInstance",
    "JourneyLog",
    "LiveKitWebhookDelivery",
    "Onboarding",
    "OnboardingJourney",
    "OnboardingLog",
    "OnboardingStep",
    "OutboxEvent",
    "Reward",
    "RewardUnlock",
    "Tenant",
    "User",
    "XpEntry",
]
