"""Per-request dataloaders. Built with the context; never module-level (they cache)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.avatars import authoring as avatars
from app.avatars import service as avatar_sessions
from app.avatars.models import Avatar, AvatarSession
from app.catalog import reads as catalog
from app.catalog.models import Journey, JourneyEvent
from app.onboarding import completion, reads
from app.onboarding.models import Classification, Onboarding, OnboardingJourney, OnboardingLog, OnboardingStep
from app.pagination import Page
from app.progress import reads as progress
from app.progress.models import JourneyInstance, JourneyLog
from app.rewards import authoring as rewards
from app.rewards import reads as xp
from app.rewards.models import Reward

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
    """The request's loaders, one attribute per kind of batch."""

    def __init__(self, ctx: Context) -> None:
        self.journey: DataLoader[uuid.UUID, Journey | None] = tenant_loader(
            ctx, lambda s, t, ids: catalog.journeys_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.journey_event: DataLoader[uuid.UUID, JourneyEvent | None] = tenant_loader(
            ctx, lambda s, t, ids: catalog.events_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.events_of_journey: DataLoader[uuid.UUID, list[JourneyEvent]] = tenant_loader(
            ctx, lambda s, t, ids: catalog.events_of_journeys(s, tenant_id=t, journey_ids=ids), list
        )
        self.instance: DataLoader[uuid.UUID, JourneyInstance | None] = tenant_loader(
            ctx, lambda s, t, ids: progress.instances_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.progress: DataLoader[uuid.UUID, progress.Progress] = tenant_loader(
            ctx, lambda s, t, ids: progress.progress(s, tenant_id=t, instance_ids=ids), lambda: progress.Progress(0, 0)
        )
        self.instance_events: DataLoader[tuple[Any, ...], Page[progress.EventState]] = paged_loader(
            ctx,
            lambda s, t, ids, p: progress.instance_events(
                s, tenant_id=t, instance_ids=ids, status=p[0], first=p[1], after_position=p[2]
            ),
        )
        self.instance_logs: DataLoader[tuple[Any, ...], Page[JourneyLog]] = paged_loader(
            ctx,
            lambda s, t, ids, p: progress.instance_logs(s, tenant_id=t, instance_ids=ids, first=p[0], after_id=p[1]),
        )
        self.reward: DataLoader[uuid.UUID, Reward | None] = tenant_loader(
            ctx, lambda s, t, ids: rewards.rewards_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.avatar: DataLoader[uuid.UUID, Avatar | None] = tenant_loader(
            ctx, lambda s, t, ids: avatars.avatars_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.avatar_session: DataLoader[uuid.UUID, AvatarSession | None] = tenant_loader(
            ctx, lambda s, t, ids: avatar_sessions.sessions_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )

        self.onboarding: DataLoader[uuid.UUID, Onboarding | None] = tenant_loader(
            ctx, lambda s, t, ids: reads.onboardings_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.onboarding_step: DataLoader[uuid.UUID, OnboardingStep | None] = tenant_loader(
            ctx, lambda s, t, ids: reads.steps_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.steps_of_onboarding: DataLoader[uuid.UUID, list[OnboardingStep]] = tenant_loader(
            ctx, lambda s, t, ids: reads.steps_of_onboardings(s, tenant_id=t, onboarding_ids=ids), list
        )
        self.onboarding_journey: DataLoader[uuid.UUID, OnboardingJourney | None] = tenant_loader(
            ctx, lambda s, t, ids: reads.onboarding_journeys_by_ids(s, tenant_id=t, ids=ids), lambda: None
        )
        self.onboarding_logs: DataLoader[uuid.UUID, list[OnboardingLog]] = tenant_loader(
            ctx, lambda s, t, ids: reads.logs_of_journeys(s, tenant_id=t, journey_ids=ids), list
        )
        self.onboarding_progress: DataLoader[uuid.UUID, reads.OnboardingProgress | None] = tenant_loader(
            ctx, lambda s, t, ids: reads.progress_of_journeys(s, tenant_id=t, journey_ids=ids), lambda: None
        )
        self.current_step: DataLoader[uuid.UUID, OnboardingStep | None] = tenant_loader(
            ctx, lambda s, t, ids: reads.current_steps(s, tenant_id=t, journey_ids=ids), lambda: None
        )
        # The newest classification of each user.
        self.classification: DataLoader[uuid.UUID, Classification | None] = tenant_loader(
            ctx, lambda s, t, ids: completion.latest_classifications(s, tenant_id=t, user_ids=ids), lambda: None
        )

        async def viewer_rewards(keys: list[uuid.UUID]) -> list[xp.UserReward | None]:
            viewer = await ctx.viewer()
            async with ctx.db.read() as session:
                found = await rewards.rewards_by_ids(session, tenant_id=viewer.tenant_id, ids=keys)
                states = await xp.user_rewards(
                    session, tenant=viewer.tenant, user_id=viewer.user_id, rewards=list(found.values())
                )
            by_id = {state.reward.id: state for state in states}
            return [by_id.get(key) for key in keys]

        # Rewards as the viewer sees them (unlocked or not).
        self.viewer_reward: DataLoader[uuid.UUID, xp.UserReward | None] = DataLoader(load_fn=viewer_rewards)
