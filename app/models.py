"""Imports every domain's tables so the metadata (and Alembic) knows them all."""

from app.avatars.models import Avatar, AvatarSession, LiveKitWebhookDelivery
from app.catalog.models import Journey, JourneyEvent, JourneyEventVersion, JourneyVersion
from app.idempotency import IdempotencyKey
from app.onboarding.models import (
    Classification,
    Onboarding,
    OnboardingJourney,
    OnboardingLog,
    OnboardingStep,
    OnboardingStepVersion,
    OnboardingVersion,
)
from app.progress.models import EventInstance, JourneyInstance, JourneyLog
from app.realtime.models import AblyCursor, OutboxEvent
from app.rewards.models import Reward, RewardUnlock, XpEntry
from app.tenancy.models import ApiKey, Tenant, User
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AblyCursor",
    "ApiKey",
    "Avatar",
    "AvatarSession",
    "Classification",
    "EventInstance",
    "IdempotencyKey",
    "Journey",
    "JourneyEvent",
    "JourneyEventVersion",
    "JourneyInstance",
    "JourneyLog",
    "JourneyVersion",
    "LiveKitWebhookDelivery",
    "Onboarding",
    "OnboardingJourney",
    "OnboardingLog",
    "OnboardingStep",
    "OnboardingStepVersion",
    "OnboardingVersion",
    "OutboxEvent",
    "Reward",
    "RewardUnlock",
    "Tenant",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "XpEntry",
]
