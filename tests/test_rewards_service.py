"""XP, levels and rewards through the services on a real database: levels at threshold
boundaries, awards exactly once per idempotency key (also under races), resource-scoped XP
and rewards, reward authoring and what a user sees unlocked."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, ErrorCode, InvalidInput
from app.rewards.authoring import RewardFields, create_reward, deactivate_reward, update_reward
from app.rewards.levels import LevelProgress, level_for, level_progress
from app.rewards.models import Reward
from app.rewards.reads import list_rewards_for_user, xp_history, xp_summary
from app.rewards.service import AwardResult, award_xp
from app.tenancy.models import DEFAULT_LEVEL_THRESHOLDS, Tenant, User
from app.tenancy.service import update_tenant_settings
from tests.conftest import Actors, LiveServer
from tests.progress_support import count, make_journey, make_user, outbox_events, outbox_types, race, run


async def _award(
    server: LiveServer,
    tenant: Tenant,
    user: User,
    amount: int,
    *,
    key: str | None = None,
    resource: tuple[str, str] | None = None,
) -> AwardResult:
    async def unit(session: AsyncSession) -> AwardResult:
        return await award_xp(
            session,
            tenant=tenant,
            user_id=user.id,
            amount=amount,
            reason="test",
            resource_type=resource[0] if resource else None,
            resource_id=resource[1] if resource else None,
            idempotency_key=key or f"k-{uuid.uuid4()}",
        )

    return await run(server.runtime.sessions, unit)


async def _reward(db: Any, tenant: Tenant, title: str, level: int, **fields: Any) -> Reward:
    async with db() as session:
        return await create_reward(
            session, tenant_id=tenant.id, values=RewardFields(title=title, required_level=level, **fields)
        )


async def _listed(db: Any, tenant: Tenant, user: User, **filters: Any) -> list[tuple[str, bool]]:
    async with db() as session:
        page = await list_rewards_for_user(session, tenant=tenant, user_id=user.id, first=100, after=None, **filters)
    return [(r.reward.title, r.unlocked) for r in page.items]


# --- levels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xp", "expected"),
    [
        (0, LevelProgress(1, 0, 100)),
        (99, LevelProgress(1, 0, 100)),
        (100, LevelProgress(2, 100, 250)),
        (101, LevelProgress(2, 100, 250)),
        (249, LevelProgress(2, 100, 250)),
        (250, LevelProgress(3, 250, 500)),
        (7999, LevelProgress(7, 4000, 8000)),
        (8000, LevelProgress(8, 8000, None)),
        (10**9, LevelProgress(8, 8000, None)),
    ],
)
def test_levels_start_at_each_cumulative_threshold(xp: int, expected: LevelProgress) -> None:
    assert level_progress(DEFAULT_LEVEL_THRESHOLDS, xp) == expected
    assert level_for(DEFAULT_LEVEL_THRESHOLDS, xp) == expected.level


def test_level_one_without_thresholds() -> None:
    assert level_progress([], 50) == LevelProgress(1, 0, None)
    assert level_progress([0], 50) == LevelProgress(1, 0, None)


# --- awarding -------------------------------------------------------------------------------


async def test_levels_and_unlocks_at_99_100_and_101_xp(actors: Actors, server: LiveServer) -> None:
    # given rewards for levels 1, 2 and 3
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    await _reward(actors.db, tenant, "Starter", 1)
    badge = await _reward(actors.db, tenant, "Badge", 2)
    await _reward(actors.db, tenant, "Trophy", 3)

    # when the user reaches 99 XP: still level 1 (the level-1 reward unlocks with the first award)
    at_99 = await _award(server, tenant, user, 99)
    assert (at_99.xp_awarded, at_99.level_before, at_99.level_after) == (99, 1, 1)
    assert [r.title for r in at_99.rewards_unlocked] == ["Starter"]
    assert await _listed(actors.db, tenant, user) == [("Starter", True), ("Badge", False), ("Trophy", False)]

    # 100 XP: level 2 and the badge
    at_100 = await _award(server, tenant, user, 1)
    assert (at_100.level_before, at_100.level_after) == (1, 2)
    assert [r.id for r in at_100.rewards_unlocked] == [badge.id]

    # 101 XP: nothing new
    at_101 = await _award(server, tenant, user, 1)
    assert (at_101.level_before, at_101.level_after, at_101.rewards_unlocked) == (2, 2, [])

    assert await _listed(actors.db, tenant, user) == [("Starter", True), ("Badge", True), ("Trophy", False)]
    async with actors.db() as session:
        summary = await xp_summary(session, tenant=tenant, user_id=user.id)
    assert (summary.balance, summary.level, summary.current_level_xp, summary.next_level_xp) == (101, 2, 100, 250)
    assert await outbox_types(actors.db) == [
        "xp.awarded",
        "reward.unlocked",
        "xp.awarded",
        "level.up",
        "reward.unlocked",
        "xp.awarded",
    ]
    assert await outbox_events(actors.db, "level.up") == [{"levelBefore": 1, "levelAfter": 2, "balance": 100}]
    unlocked = await outbox_events(actors.db, "reward.unlocked")
    assert [e["rewardId"] for e in unlocked][1] == str(badge.id)


async def test_retrying_an_award_with_its_key_awards_nothing(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)

    first = await _award(server, tenant, user, 120, key="lesson:1")
    retry = await _award(server, tenant, user, 120, key="lesson:1")
    other_user = await _award(server, tenant, await make_user(actors.db, tenant), 120, key="lesson:1")

    assert (first.xp_awarded, first.level_after, first.entry is not None) == (120, 2, True)
    assert (retry.xp_awarded, retry.level_before, retry.level_after, retry.entry, retry.rewards_unlocked) == (
        0,
        2,
        2,
        None,
        [],
    )
    assert other_user.xp_awarded == 120  # keys are per user
    assert await count(actors.db, "SELECT count(*) FROM xp_entries WHERE user_id = :u", u=user.id) == 1
    assert (await outbox_types(actors.db)).count("xp.awarded") == 2


async def test_twenty_racing_awards_with_one_key_award_once(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)

    async def unit(session: AsyncSession) -> AwardResult:
        return await award_xp(
            session, tenant=tenant, user_id=user.id, amount=40, reason="race", idempotency_key="the-one"
        )

    results = await race(server.runtime.sessions, unit)

    assert sorted(r.xp_awarded for r in results) == [0] * 19 + [40]  # type: ignore[union-attr]
    assert await count(actors.db, "SELECT sum(amount) FROM xp_entries") == 40


async def test_racing_awards_with_different_keys_each_see_the_previous_total(
    actors: Actors, server: LiveServer
) -> None:
    # twenty awards of 10 XP at once: exactly one of them crosses 100 XP
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    reward = await _reward(actors.db, tenant, "Badge", 2)

    results = await asyncio.gather(*(_award(server, tenant, user, 10) for _ in range(20)))

    assert [(r.level_before, r.level_after) for r in results].count((1, 2)) == 1
    assert sorted(r.level_after for r in results) == [1] * 9 + [2] * 11
    assert [r.rewards_unlocked[0].id for r in results if r.rewards_unlocked] == [reward.id]
    assert await outbox_events(actors.db, "level.up") == [{"levelBefore": 1, "levelAfter": 2, "balance": 100}]
    async with actors.db() as session:
        assert (await xp_summary(session, tenant=tenant, user_id=user.id)).balance == 200


async def test_a_zero_award_records_nothing_and_a_negative_one_is_refused(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)

    nothing = await _award(server, tenant, user, 0)
    with pytest.raises(ValueError):
        await _award(server, tenant, user, -5)

    assert (nothing.xp_awarded, nothing.level_after, nothing.entry) == (0, 1, None)
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 0
    assert await outbox_types(actors.db) == []


async def test_an_unknown_or_foreign_user_is_not_found(actors: Actors, server: LiveServer) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    stranger = await make_user(actors.db, other)

    with pytest.raises(DomainError) as caught:
        await _award(server, tenant, stranger, 10)

    assert caught.value.code is ErrorCode.NOT_FOUND


async def test_the_tenants_own_thresholds_decide_levels(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    async with actors.db() as session:
        tenant = await update_tenant_settings(session, tenant_id=tenant.id, level_thresholds=[0, 10, 20])
    user = await make_user(actors.db, tenant)

    result = await _award(server, tenant, user, 25)

    assert (result.level_before, result.level_after) == (1, 3)
    async with actors.db() as session:
        summary = await xp_summary(session, tenant=tenant, user_id=user.id)
    assert (summary.level, summary.current_level_xp, summary.next_level_xp) == (3, 20, None)


# --- resources ------------------------------------------------------------------------------


async def test_xp_and_levels_filtered_by_resource(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    await _award(server, tenant, user, 120, resource=("journey", "j1"))
    await _award(server, tenant, user, 40, resource=("journey", "j2"))
    await _award(server, tenant, user, 300, resource=("onboarding", "o1"))
    await _award(server, tenant, user, 5)

    async with actors.db() as session:
        overall = await xp_summary(session, tenant=tenant, user_id=user.id)
        j1 = await xp_summary(session, tenant=tenant, user_id=user.id, resource_type="journey", resource_id="j1")
        journeys = await xp_summary(session, tenant=tenant, user_id=user.id, resource_type="journey")
        unknown = await xp_summary(session, tenant=tenant, user_id=user.id, resource_type="journey", resource_id="zz")
        history = await xp_history(
            session, tenant_id=tenant.id, user_id=user.id, resource_type="journey", first=10, after=None
        )

    assert (overall.balance, overall.level) == (465, 3)
    assert (j1.balance, j1.level, j1.current_level_xp, j1.next_level_xp) == (120, 2, 100, 250)
    assert (journeys.balance, journeys.level) == (160, 2)
    assert (unknown.balance, unknown.level, unknown.next_level_xp) == (0, 1, 100)
    assert [(e.amount, e.resource_id) for e in history.items] == [(40, "j2"), (120, "j1")]


async def test_history_pages_newest_first(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    for amount in range(1, 6):
        await _award(server, tenant, user, amount)

    async with actors.db() as session:
        page = await xp_history(session, tenant_id=tenant.id, user_id=user.id, first=3, after=None)
        last = page.items[-1]
        rest = await xp_history(
            session, tenant_id=tenant.id, user_id=user.id, first=3, after=(last.created_at, last.id)
        )

    assert [e.amount for e in page.items] == [5, 4, 3] and page.has_next
    assert [e.amount for e in rest.items] == [2, 1] and not rest.has_next


async def test_a_resource_reward_unlocks_by_that_resources_xp_only(actors: Actors, server: LiveServer) -> None:
    # given a reward for level 2 within journey j1, one for level 2 in any journey, one overall
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    j1_id = str((await make_journey(actors.db, tenant)).journey.id)
    j2_id = str((await make_journey(actors.db, tenant)).journey.id)
    j1 = await _reward(actors.db, tenant, "J1 badge", 2, resource_type="journey", resource_id=j1_id)
    any_journey = await _reward(actors.db, tenant, "Any journey badge", 2, resource_type="journey")
    overall = await _reward(actors.db, tenant, "Overall badge", 2)

    # when 150 XP come from onboarding: only the overall reward
    first = await _award(server, tenant, user, 150, resource=("onboarding", "o1"))
    assert [r.id for r in first.rewards_unlocked] == [overall.id]

    # 60 from j2 and 60 from j1: 120 journey XP unlock the type-wide reward, not j1's
    await _award(server, tenant, user, 60, resource=("journey", j2_id))
    second = await _award(server, tenant, user, 60, resource=("journey", j1_id))
    assert [r.id for r in second.rewards_unlocked] == [any_journey.id]

    # 40 more in j1 make 100 there
    third = await _award(server, tenant, user, 40, resource=("journey", j1_id))
    assert [r.id for r in third.rewards_unlocked] == [j1.id]

    assert await _listed(actors.db, tenant, user, resource_type="journey", resource_id=j1_id) == [("J1 badge", True)]
    assert [t for t, _ in await _listed(actors.db, tenant, user, resource_type="journey")] == [
        "Any journey badge",
        "J1 badge",
    ]


# --- authoring and listing ------------------------------------------------------------------


async def test_reward_input_is_validated_field_by_field(actors: Actors) -> None:
    tenant = await actors.tenant()

    async with actors.db() as session:
        with pytest.raises(InvalidInput) as caught:
            await create_reward(
                session,
                tenant_id=tenant.id,
                values=RewardFields(
                    title="  ", required_level=0, image_url="ftp://x", resource_type="Bad Type", active="yes"
                ),
            )
        with pytest.raises(InvalidInput) as orphan:
            await create_reward(
                session, tenant_id=tenant.id, values=RewardFields(title="Ok", required_level=1, resource_id="j1")
            )

    assert sorted(p.field for p in caught.value.problems) == [
        ("input", "active"),
        ("input", "imageUrl"),
        ("input", "requiredLevel"),
        ("input", "resourceType"),
        ("input", "title"),
    ]
    assert caught.value.code is ErrorCode.BAD_USER_INPUT
    assert [p.field for p in orphan.value.problems] == [("input", "resourceId")]
    assert await count(actors.db, "SELECT count(*) FROM rewards") == 0


async def test_update_changes_only_the_given_fields_and_deactivate_hides(actors: Actors, server: LiveServer) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    user = await make_user(actors.db, tenant)
    reward = await _reward(actors.db, tenant, "Badge", 3, description="Shiny", image_url="https://img/1.png")

    async with actors.db() as session:
        updated = await update_reward(
            session, tenant_id=tenant.id, reward_id=reward.id, values=RewardFields(title="Gold badge", required_level=2)
        )
    assert (updated.title, updated.required_level, updated.description, updated.image_url) == (
        "Gold badge",
        2,
        "Shiny",
        "https://img/1.png",
    )
    async with actors.db() as session:
        with pytest.raises(InvalidInput) as caught:
            await update_reward(
                session, tenant_id=tenant.id, reward_id=reward.id, values=RewardFields(required_level=None)
            )
        with pytest.raises(DomainError) as foreign:
            await update_reward(session, tenant_id=other.id, reward_id=reward.id, values=RewardFields(title="Mine"))
    assert [p.field for p in caught.value.problems] == [("input", "requiredLevel")]
    assert (foreign.value.code, foreign.value.field) == (ErrorCode.NOT_FOUND, ("id",))

    assert await _listed(actors.db, tenant, user) == [("Gold badge", False)]
    async with actors.db() as session:
        gone = await deactivate_reward(session, tenant_id=tenant.id, reward_id=reward.id)
        again = await deactivate_reward(session, tenant_id=tenant.id, reward_id=reward.id)
    assert (gone.active, again.active) == (False, False)
    assert await _listed(actors.db, tenant, user) == []


async def test_rewards_list_by_level_then_title_with_the_viewers_unlocks(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user, other = await make_user(actors.db, tenant), await make_user(actors.db, tenant)
    for title, level in [("Zebra", 1), ("Apple", 2), ("Mango", 2), ("Kiwi", 3), ("Banana", 1)]:
        await _reward(actors.db, tenant, title, level)
    await _award(server, tenant, user, 100)
    # authored after the award: unlocked by level, not yet stored
    await _reward(actors.db, tenant, "Late", 2)

    async with actors.db() as session:
        page = await list_rewards_for_user(session, tenant=tenant, user_id=user.id, first=3, after=None)
        last = page.items[-1].reward
        rest = await list_rewards_for_user(
            session, tenant=tenant, user_id=user.id, first=3, after=(last.required_level, last.title, last.id)
        )
    seen = page.items + rest.items
    assert [(r.reward.title, r.unlocked, r.unlocked_at is not None) for r in seen] == [
        ("Banana", True, True),
        ("Zebra", True, True),
        ("Apple", True, True),
        ("Late", True, False),
        ("Mango", True, True),
        ("Kiwi", False, False),
    ]
    assert (page.has_next, rest.has_next) == (True, False)
    assert [u for _, u in await _listed(actors.db, tenant, other)] == [True, True, False, False, False, False]
