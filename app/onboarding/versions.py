"""Onboardings as a kind of versioned content (app/versions/): an onboarding's fields and
classification form, and its steps."""

from __future__ import annotations

from app.onboarding.models import (
    Onboarding,
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingStatus,
    OnboardingStep,
    OnboardingStepVersion,
    OnboardingVersion,
)
from app.versions.kinds import VersionedKind

ONBOARDINGS = VersionedKind(
    label="Onboarding",
    definition=Onboarding,
    item=OnboardingStep,
    version=OnboardingVersion,
    version_item=OnboardingStepVersion,
    run=OnboardingJourney,
    parent="onboarding_id",
    run_version="onboarding_version",
    fields=("slug", "name", "description", "xp_reward", "form"),
    item_fields=("name", "description", "metadata"),
    published=OnboardingStatus.PUBLISHED,
    archived=OnboardingStatus.ARCHIVED,
    open_run_statuses=(OnboardingJourneyStatus.ACTIVE, OnboardingJourneyStatus.SUSPENDED),
)
