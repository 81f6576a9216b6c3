"""Per-request dataloaders. Made by the context, each on first use; never module-level (they cache)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.avatars import authoring as avatars
from app.avatars import service as avatar_sessions
from app.avatars.models import Avatar, AvatarSession
from app.catalog import reads as catalog
from app.catalog.reads import EventRow, JourneyRow
from app.onboarding import completion, reads
from app.onboarding.models import Classification, OnboardingJourney, OnboardingLog
from app.pagination import Page
from app.progress import reads as progress
from app.progress.models import JourneyLog
from app.progress.reads import EventState, InstanceRow, Progress
from app.rewards import authoring as rewards
from app.rewards import reads as xp
from app.rewards.models import Reward
from app.tenancy import users
from app.tenancy.models import User

if TYPE_CHECKING:
    from app.graphql.context import Context

K = TypeVar("K")
V = TypeVar("V")


def tenant_loader(
    ctx: Context,
    fetch: Callable[[AsyncSession, uuid.UUID, Sequence[K]], Awaitable[Mapping[K, V]]],
    default: Callable[[], V],
) -> DataLoader[K, V]:
    """A loader that fetches a batch of keys of the viewer's tenant in one query."""

    async def load(keys: list[K]) -> list[V]:
        viewer = await ctx.viewer()
        async with ctx.db.read() as session:
            found = await fetch(session, viewer.tenant_id, keys)
        return [found[k] if k in found else default() for k in keys]

    return DataLoader(load_fn=load)


def paged_loader(
    ctx: Context,
    fetch: Callable[[AsyncSession, uuid.UUID, Sequence[uuid.UUID], Any], Awaitable[Mapping[uuid.UUID, V]]],
) -> DataLoader[tuple[Any, ...], V]:
    """A loader of per-parent pages keyed ``(parent id, *page arguments)``: one query per
    distinct set of page arguments, however many parents ask."""

    async def load(keys: list[tuple[Any, ...]]) -> list[V]:
        viewer = await ctx.viewer()
        groups: dict[tuple[Any, ...], list[uuid.UUID]] = {}
        for key in keys:
            groups.setdefault(key[1:], []).append(key[0])
        found: dict[tuple[Any, ...], V] = {}
        async with ctx.db.read() as session:
            for params, parents in groups.items():
                pages = await fetch(session, viewer.tenant_id, parents, params)
                found.update({(parent, *params): pages[parent] for parent in parents})
        return [found[key] for key in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """The request's loaders, one attribute per kind of batch, each made on first use (an
    operation needs a few of them, not all twenty)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    @cached_property
    def journey(self) -> DataLoader[uuid.UUID, JourneyRow | None]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: catalog.JOURNEY_READS.latest(s, tenant_id=t, ids=ids), lambda: None
        )

    # Journeys and onboardings by (id, version): as a run pinned them (app/versions/).
    @cached_property
    def journey_at(self) -> DataLoader[tuple[uuid.UUID, int], JourneyRow | None]:
        return tenant_loader(
            self._ctx, lambda s, t, keys: catalog.JOURNEY_READS.pinned(s, tenant_id=t, keys=keys), lambda: None
        )

    @cached_property
    def journey_draft(self) -> DataLoader[uuid.UUID, Any]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: catalog.JOURNEY_READS.drafts(s, tenant_id=t, ids=ids), lambda: None
        )

    # Events as in the journey's latest version, or (item_version 0) only in its draft.
    @cached_property
    def journey_event(self) -> DataLoader[uuid.UUID, EventRow | None]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: catalog.JOURNEY_READS.items_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )

    # Keyed (journey id, version); version 0 is the draft.
    @cached_property
    def events_of_journey(self) -> DataLoader[tuple[uuid.UUID, int], list[EventRow]]:
        return tenant_loader(self._ctx, lambda s, t, keys: catalog.JOURNEY_READS.items(s, tenant_id=t, keys=keys), list)

    @cached_property
    def instance(self) -> DataLoader[uuid.UUID, InstanceRow | None]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: progress.instances_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )

    @cached_property
    def progress(self) -> DataLoader[uuid.UUID, Progress]:
        return tenant_loader(
            self._ctx,
            lambda s, t, ids: progress.progress(s, tenant_id=t, instance_ids=ids),
            lambda: Progress(0, 0),
        )

    @cached_property
    def instance_events(self) -> DataLoader[tuple[Any, ...], Page[EventState]]:
        return paged_loader(
            self._ctx,
            lambda s, t, ids, p: progress.instance_events(s, tenant_id=t, instance_ids=ids, status=p[0], window=p[1]),
        )

    # Keyed (instance id, status): how many events each run's `events` list holds.
    @cached_property
    def instance_event_count(self) -> DataLoader[tuple[Any, ...], int]:
        return paged_loader(
            self._ctx,
            lambda s, t, ids, p: progress.instance_event_counts(s, tenant_id=t, instance_ids=ids, status=p[0]),
        )

    @cached_property
    def instance_logs(self) -> DataLoader[tuple[Any, ...], Page[JourneyLog]]:
        return paged_loader(
            self._ctx,
            lambda s, t, ids, p: progress.instance_logs(s, tenant_id=t, instance_ids=ids, window=p[0]),
        )

    @cached_property
    def instance_log_count(self) -> DataLoader[uuid.UUID, int]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: progress.instance_log_counts(s, tenant_id=t, instance_ids=ids), int
        )

    @cached_property
    def reward(self) -> DataLoader[uuid.UUID, Reward | None]:
        return tenant_loader(self._ctx, lambda s, t, ids: rewards.rewards_by_ids(s, tenant_id=t, ids=ids), lambda: None)

    @cached_property
    def avatar(self) -> DataLoader[uuid.UUID, Avatar | None]:
        return tenant_loader(self._ctx, lambda s, t, ids: avatars.avatars_by_ids(s, tenant_id=t, ids=ids), lambda: None)

    @cached_property
    def avatar_session(self) -> DataLoader[uuid.UUID, AvatarSession | None]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: avatar_sessions.sessions_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )

    @cached_property
    def onboarding(self) -> DataLoader[uuid.UUID, Any]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: reads.onboardings_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )

    @cached_property
    def onboarding_at(self) -> DataLoader[tuple[uuid.UUID, int], Any]:
        return tenant_loader(
            self._ctx, lambda s, t, keys: reads.ONBOARDING_READS.pinned(s, tenant_id=t, keys=keys), lambda: None
        )

    @cached_property
    def onboarding_draft(self) -> DataLoader[uuid.UUID, Any]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: reads.ONBOARDING_READS.drafts(s, tenant_id=t, ids=ids), lambda: None
        )

    @cached_property
    def onboarding_step(self) -> DataLoader[uuid.UUID, Any]:
        return tenant_loader(self._ctx, lambda s, t, ids: reads.steps_by_ids(s, tenant_id=t, ids=ids), lambda: None)

    # Keyed (onboarding id, version); version 0 is the draft.
    @cached_property
    def steps_of_onboarding(self) -> DataLoader[tuple[uuid.UUID, int], list[Any]]:
        return tenant_loader(
            self._ctx, lambda s, t, keys: reads.ONBOARDING_READS.items(s, tenant_id=t, keys=keys), list
        )

    @cached_property
    def onboarding_journey(self) -> DataLoader[uuid.UUID, OnboardingJourney | None]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: reads.onboarding_journeys_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )

    @cached_property
    def onboarding_logs(self) -> DataLoader[uuid.UUID, list[OnboardingLog]]:
        return tenant_loader(self._ctx, lambda s, t, ids: reads.logs_of_journeys(s, tenant_id=t, journey_ids=ids), list)

    @cached_property
    def onboarding_progress(self) -> DataLoader[uuid.UUID, reads.OnboardingProgress | None]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: reads.progress_of_journeys(s, tenant_id=t, journey_ids=ids), lambda: None
        )

    @cached_property
    def current_step(self) -> DataLoader[uuid.UUID, Any]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: reads.current_steps(s, tenant_id=t, journey_ids=ids), lambda: None
        )

    @cached_property
    def user(self) -> DataLoader[uuid.UUID, User | None]:
        return tenant_loader(self._ctx, lambda s, t, ids: users.users_by_ids(s, tenant_id=t, ids=ids), lambda: None)

    # Each user's overall XP.
    @cached_property
    def xp_balance(self) -> DataLoader[uuid.UUID, int]:
        return tenant_loader(self._ctx, lambda s, t, ids: users.xp_balances(s, tenant_id=t, user_ids=ids), int)

    # The newest classification of each user.
    @cached_property
    def classification(self) -> DataLoader[uuid.UUID, Classification | None]:
        return tenant_loader(
            self._ctx, lambda s, t, ids: completion.latest_classifications(s, tenant_id=t, user_ids=ids), lambda: None
        )

    @cached_property
    def viewer_reward(self) -> DataLoader[uuid.UUID, xp.UserReward | None]:
        """Rewards as the viewer sees them (unlocked or not)."""
        ctx = self._ctx

        async def viewer_rewards(keys: list[uuid.UUID]) -> list[xp.UserReward | None]:
            viewer = await ctx.viewer()
            async with ctx.db.read() as session:
                found = await rewards.rewards_by_ids(session, tenant_id=viewer.tenant_id, ids=keys)
                states = await xp.user_rewards(
                    session, tenant=viewer.tenant, user_id=viewer.user_id, rewards=list(found.values())
                )
            by_id = {state.reward.id: state for state in states}
            return [by_id.get(key) for key in keys]

        return DataLoader(load_fn=viewer_rewards)
