"""Onboarding authoring through the services on a real database: creating, updating,
publishing and archiving onboardings, their steps and orders, the classification form and
the journeys it recommends, validation (every problem by path, nothing changed), tenancy,
the reads the API serves, and the admin events each change records."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, ErrorCode, InvalidInput
from app.onboarding.authoring import (
    MAX_STEPS,
    OnboardingFields,
    StepFields,
    add_step,
    archive_onboarding,
    create_onboarding,
    publish_onboarding,
    remove_step,
    reorder_steps,
    set_classification_form,
    update_onboarding,
    update_step,
)
from app.onboarding.form_input import clean_form
from app.onboarding.models import Onboarding, OnboardingStatus, OnboardingStep
from app.onboarding.reads import (
    get_onboarding,
    list_onboardings,
    onboardings_by_ids,
    steps_by_ids,
    steps_of_onboardings,
)
from app.tenancy.models import Tenant
from tests.conftest import Actors, LiveServer, StatementCounter
from tests.progress_support import make_journey, race


async def _error(coro: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await coro
    return caught.value


def _fields(error: DomainError) -> list[tuple[str, ...]]:
    """Every problem's path of a BAD_USER_INPUT (one for a single-field error)."""
    assert error.code is ErrorCode.BAD_USER_INPUT
    if isinstance(error, InvalidInput):
        return [p.field for p in error.problems]
    assert error.field is not None
    return [error.field]


async def _counts(db: Any) -> dict[str, int]:
    async with db() as session:
        return {
            table: (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("onboardings", "onboarding_steps", "outbox_events")
        }


async def _events(db: Any) -> list[tuple[str, uuid.UUID | None, dict[str, Any]]]:
    async with db() as session:
        rows = await session.execute(text("SELECT type, user_id, data FROM outbox_events ORDER BY id"))
        return [(row.type, row.user_id, row.data) for row in rows]


async def _make(
    db: Any, tenant: Tenant, *, steps: int = 0, publish: bool = False, slug: str | None = None
) -> Onboarding:
    async with db() as session:
        onboarding = await create_onboarding(
            session,
            tenant_id=tenant.id,
            values=OnboardingFields(slug=slug or f"o-{uuid.uuid4().hex[:10]}", name="Welcome"),
        )
        for index in range(steps):
            await add_step(
                session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name=f"Step {index + 1}")
            )
        if publish:
            onboarding = await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id)
    return onboarding


async def _steps(db: Any, tenant: Tenant, onboarding_id: uuid.UUID) -> list[tuple[int, str]]:
    async with db() as session:
        steps = await steps_of_onboardings(session, tenant_id=tenant.id, onboarding_ids=[onboarding_id])
    return [(s.position, s.name) for s in steps[onboarding_id]]


async def _fresh(db: Any, onboarding_id: uuid.UUID) -> Onboarding:
    async with db() as session:
        onboarding = await session.get(Onboarding, onboarding_id)
        assert onboarding is not None
        return onboarding


def _form(*, athlete: list[Any], mindful: list[Any]) -> dict[str, Any]:
    return {
        "questions": [
            {
                "key": "goal",
                "prompt": "What brings you here?",
                "kind": "SINGLE_CHOICE",
                "required": True,
                "options": [
                    {"value": "fitness", "label": "Fitness", "scores": {"athlete": 3}},
                    {"value": "calm", "label": "Calm", "scores": {"mindful": 3}},
                ],
            }
        ],
        "segments": [
            {"key": "athlete", "name": "Athlete", "recommendedJourneys": athlete, "priority": 1},
            {"key": "mindful", "name": "Mindful", "recommendedJourneys": mindful, "priority": 2},
        ],
    }


# --- onboardings ------------------------------------------------------------------------------


async def test_create_update_publish_and_archive_an_onboarding(actors: Actors) -> None:
    tenant = await actors.tenant()
    db = actors.db

    # when an admin creates an onboarding with every field
    async with db() as session:
        created = await create_onboarding(
            session,
            tenant_id=tenant.id,
            values=OnboardingFields(slug="welcome", name="  Welcome  ", description="Hello", xp_reward=50),
        )
    # then it is a DRAFT with the fields as given (texts stripped)
    assert (created.slug, created.name, created.description, created.xp_reward) == ("welcome", "Welcome", "Hello", 50)
    assert created.status is OnboardingStatus.DRAFT
    assert created.published_at is None
    assert created.form is None

    # when only the name and xp are updated, the rest stays
    async with db() as session:
        updated = await update_onboarding(
            session, tenant_id=tenant.id, onboarding_id=created.id, values=OnboardingFields(name="Hi", xp_reward=0)
        )
    assert (updated.slug, updated.name, updated.description, updated.xp_reward) == ("welcome", "Hi", "Hello", 0)
    assert updated.updated_at > created.updated_at

    # publish (with a step) and archive
    async with db() as session:
        await add_step(session, tenant_id=tenant.id, onboarding_id=created.id, values=StepFields(name="One"))
        published = await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=created.id)
    assert published.status is OnboardingStatus.PUBLISHED
    assert published.published_at is not None
    async with db() as session:
        archived = await archive_onboarding(session, tenant_id=tenant.id, onboarding_id=created.id)
    assert archived.status is OnboardingStatus.ARCHIVED
    assert (await _fresh(db, created.id)).status is OnboardingStatus.ARCHIVED


async def test_create_lists_every_invalid_field_and_creates_nothing(actors: Actors) -> None:
    tenant = await actors.tenant()
    before = await _counts(actors.db)
    cases: list[tuple[OnboardingFields, list[tuple[str, ...]]]] = [
        (OnboardingFields(), [("input", "slug"), ("input", "name")]),
        (OnboardingFields(slug=None, name=None), [("input", "slug"), ("input", "name")]),
        (OnboardingFields(slug="ok", name="   "), [("input", "name")]),
        (OnboardingFields(slug="ok", name="x" * 201), [("input", "name")]),
        (OnboardingFields(slug="ok", name="x" * 200, xp_reward=None), [("input", "xpReward")]),
        (
            OnboardingFields(slug="Not A Slug", name="", description="d" * 10_001, xp_reward=-1),
            [("input", "slug"), ("input", "name"), ("input", "description"), ("input", "xpReward")],
        ),
        (OnboardingFields(slug="a--b", name="N", xp_reward=1_000_001), [("input", "slug"), ("input", "xpReward")]),
    ]
    for values, expected in cases:
        async with actors.db() as session:
            error = await _error(create_onboarding(session, tenant_id=tenant.id, values=values))
        assert sorted(_fields(error)) == sorted(expected), values
    assert await _counts(actors.db) == before

    # the limits themselves are accepted
    async with actors.db() as session:
        made = await create_onboarding(
            session,
            tenant_id=tenant.id,
            values=OnboardingFields(slug="a" * 64, name="x" * 200, description="d" * 10_000, xp_reward=1_000_000),
        )
    assert made.xp_reward == 1_000_000


async def test_an_invalid_update_changes_nothing(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant, slug="kept")
    before = await _counts(actors.db)

    async with actors.db() as session:
        error = await _error(
            update_onboarding(
                session,
                tenant_id=tenant.id,
                onboarding_id=onboarding.id,
                values=OnboardingFields(slug="UPPER", name="Fine", xp_reward=2_000_000),
            )
        )
    assert sorted(_fields(error)) == [("input", "slug"), ("input", "xpReward")]
    assert await _counts(actors.db) == before
    fresh = await _fresh(actors.db, onboarding.id)
    assert (fresh.slug, fresh.name, fresh.xp_reward) == ("kept", "Welcome", 0)


async def test_slugs_are_unique_within_a_tenant(actors: Actors) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    await _make(actors.db, tenant, slug="welcome")
    second = await _make(actors.db, tenant, slug="second")
    before = await _counts(actors.db)

    async with actors.db() as session:
        taken = await _error(
            create_onboarding(session, tenant_id=tenant.id, values=OnboardingFields(slug="welcome", name="Again"))
        )
    assert _fields(taken) == [("input", "slug")]
    async with actors.db() as session:
        renamed = await _error(
            update_onboarding(
                session, tenant_id=tenant.id, onboarding_id=second.id, values=OnboardingFields(slug="welcome")
            )
        )
    assert _fields(renamed) == [("input", "slug")]
    assert await _counts(actors.db) == before
    assert (await _fresh(actors.db, second.id)).slug == "second"

    # keeping one's own slug is fine, and another tenant may use the same slug
    async with actors.db() as session:
        await update_onboarding(
            session, tenant_id=tenant.id, onboarding_id=second.id, values=OnboardingFields(slug="second")
        )
    elsewhere = await _make(actors.db, other, slug="welcome")
    assert elsewhere.slug == "welcome"


async def test_publishing_needs_a_step_and_publishing_twice_changes_nothing(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant)
    before = await _counts(actors.db)

    async with actors.db() as session:
        error = await _error(publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id))
    assert _fields(error) == [("id",)]
    assert await _counts(actors.db) == before
    assert (await _fresh(actors.db, onboarding.id)).status is OnboardingStatus.DRAFT

    async with actors.db() as session:
        await add_step(session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name="One"))
        first = await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id)
    async with actors.db() as session:
        again = await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id)
        await archive_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id)
    async with actors.db() as session:
        await archive_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id)
    assert again.published_at == first.published_at
    types = [t for t, _, _ in await _events(actors.db)]
    assert types.count("onboarding.published") == 1
    assert types.count("onboarding.archived") == 1


# --- steps --------------------------------------------------------------------------------------


async def test_steps_go_last_and_updates_change_only_the_given_fields(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant)

    async with actors.db() as session:
        first = await add_step(
            session,
            tenant_id=tenant.id,
            onboarding_id=onboarding.id,
            values=StepFields(name=" Profile ", description="Tell us", metadata={"screen": "profile"}),
        )
        second = await add_step(
            session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name="Goals")
        )
    assert (first.position, first.name, first.description, first.metadata_) == (
        1,
        "Profile",
        "Tell us",
        {"screen": "profile"},
    )
    assert (second.position, second.description, second.metadata_) == (2, "", {})

    async with actors.db() as session:
        changed = await update_step(
            session, tenant_id=tenant.id, step_id=first.id, values=StepFields(description="More", metadata=None)
        )
    assert (changed.position, changed.name, changed.description, changed.metadata_) == (1, "Profile", "More", {})
    assert await _steps(actors.db, tenant, onboarding.id) == [(1, "Profile"), (2, "Goals")]


async def test_invalid_step_input_lists_every_field_and_changes_nothing(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant, steps=1)
    [step] = await _fresh_steps(actors.db, tenant, onboarding.id)
    before = await _counts(actors.db)

    adds: list[tuple[StepFields, list[tuple[str, ...]]]] = [
        (StepFields(), [("input", "name")]),
        (StepFields(name=None), [("input", "name")]),
        (StepFields(name=" "), [("input", "name")]),
        (StepFields(name="x" * 201, description="d" * 10_001), [("input", "name"), ("input", "description")]),
    ]
    for values, expected in adds:
        async with actors.db() as session:
            error = await _error(add_step(session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=values))
        assert sorted(_fields(error)) == sorted(expected), values
    async with actors.db() as session:
        error = await _error(
            update_step(
                session, tenant_id=tenant.id, step_id=step.id, values=StepFields(name="", description="d" * 10_001)
            )
        )
    assert sorted(_fields(error)) == [("input", "description"), ("input", "name")]
    assert await _counts(actors.db) == before
    assert await _steps(actors.db, tenant, onboarding.id) == [(1, "Step 1")]


async def _fresh_steps(db: Any, tenant: Tenant, onboarding_id: uuid.UUID) -> list[OnboardingStep]:
    async with db() as session:
        return (await steps_of_onboardings(session, tenant_id=tenant.id, onboarding_ids=[onboarding_id]))[onboarding_id]


async def test_removing_a_step_moves_later_steps_up(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant, steps=4)
    steps = await _fresh_steps(actors.db, tenant, onboarding.id)

    async with actors.db() as session:
        removed = await remove_step(session, tenant_id=tenant.id, step_id=steps[1].id)
    # the removed step is returned as it was
    assert (removed.id, removed.position, removed.name) == (steps[1].id, 2, "Step 2")
    assert await _steps(actors.db, tenant, onboarding.id) == [(1, "Step 1"), (2, "Step 3"), (3, "Step 4")]

    async with actors.db() as session:
        await remove_step(session, tenant_id=tenant.id, step_id=steps[3].id)
        again = await _error(remove_step(session, tenant_id=tenant.id, step_id=steps[1].id))
    assert again.code is ErrorCode.NOT_FOUND
    assert await _steps(actors.db, tenant, onboarding.id) == [(1, "Step 1"), (2, "Step 3")]

    # a new step goes after the remaining ones
    async with actors.db() as session:
        added = await add_step(session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name="New"))
    assert added.position == 3


async def test_a_published_onboarding_keeps_at_least_one_step(actors: Actors) -> None:
    tenant = await actors.tenant()
    published = await _make(actors.db, tenant, steps=1, publish=True)
    [only] = await _fresh_steps(actors.db, tenant, published.id)
    before = await _counts(actors.db)

    async with actors.db() as session:
        error = await _error(remove_step(session, tenant_id=tenant.id, step_id=only.id))
    assert _fields(error) == [("id",)]
    assert await _counts(actors.db) == before

    # a draft, or an archived onboarding, may lose its last step
    draft = await _make(actors.db, tenant, steps=1)
    [draft_step] = await _fresh_steps(actors.db, tenant, draft.id)
    async with actors.db() as session:
        await remove_step(session, tenant_id=tenant.id, step_id=draft_step.id)
        await archive_onboarding(session, tenant_id=tenant.id, onboarding_id=published.id)
        await remove_step(session, tenant_id=tenant.id, step_id=only.id)
    assert await _steps(actors.db, tenant, draft.id) == []
    assert await _steps(actors.db, tenant, published.id) == []


async def test_reorder_sets_orders_in_the_order_given(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant, steps=3)
    a, b, c = await _fresh_steps(actors.db, tenant, onboarding.id)

    async with actors.db() as session:
        result = await reorder_steps(
            session, tenant_id=tenant.id, onboarding_id=onboarding.id, step_ids=[c.id, a.id, b.id]
        )
    assert result.id == onboarding.id
    assert await _steps(actors.db, tenant, onboarding.id) == [(1, "Step 3"), (2, "Step 1"), (3, "Step 2")]

    # then removing the first moves the rest up in their new order
    async with actors.db() as session:
        await remove_step(session, tenant_id=tenant.id, step_id=c.id)
    assert await _steps(actors.db, tenant, onboarding.id) == [(1, "Step 1"), (2, "Step 2")]


async def test_reorder_must_list_each_step_exactly_once(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant, steps=3)
    other = await _make(actors.db, tenant, steps=1)
    a, b, c = await _fresh_steps(actors.db, tenant, onboarding.id)
    [foreign] = await _fresh_steps(actors.db, tenant, other.id)
    before = await _counts(actors.db)

    for step_ids in (
        [a.id, b.id],
        [a.id, b.id, c.id, c.id],
        [a.id, b.id, b.id],
        [a.id, b.id, foreign.id],
        [a.id, b.id, c.id, uuid.uuid4()],
        [],
    ):
        async with actors.db() as session:
            error = await _error(
                reorder_steps(session, tenant_id=tenant.id, onboarding_id=onboarding.id, step_ids=step_ids)
            )
        assert _fields(error) == [("stepIds",)]
    assert await _counts(actors.db) == before
    assert await _steps(actors.db, tenant, onboarding.id) == [(1, "Step 1"), (2, "Step 2"), (3, "Step 3")]


async def test_an_onboarding_has_at_most_100_steps(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant)
    async with actors.db() as session:
        session.add_all(
            OnboardingStep(tenant_id=tenant.id, onboarding_id=onboarding.id, position=p, name=f"S{p}")
            for p in range(1, MAX_STEPS + 1)
        )
    before = await _counts(actors.db)

    async with actors.db() as session:
        error = await _error(
            add_step(session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name="Too many"))
        )
    assert _fields(error) == [("onboardingId",)]
    assert await _counts(actors.db) == before


async def test_steps_added_concurrently_each_get_their_own_order(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant)

    async def unit(session: AsyncSession) -> OnboardingStep:
        return await add_step(session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name="S"))

    results = await race(server.runtime.sessions, unit)
    assert all(isinstance(r, OnboardingStep) for r in results)
    assert sorted(s.position for s in await _fresh_steps(actors.db, tenant, onboarding.id)) == list(range(1, 21))


# --- the classification form ------------------------------------------------------------------


async def test_setting_a_form_stores_it_canonically_and_an_empty_form_clears_it(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant, steps=1)
    published = await make_journey(actors.db, tenant)
    draft = await make_journey(actors.db, tenant, publish=False)
    form_input = _form(athlete=[str(published.journey.id), str(draft.journey.id)], mindful=[])

    async with actors.db() as session:
        result = await set_classification_form(
            session, tenant_id=tenant.id, onboarding_id=onboarding.id, form_input=form_input
        )
    assert result.form == clean_form(form_input)
    stored = (await _fresh(actors.db, onboarding.id)).form
    assert stored is not None
    assert stored["segments"][0]["recommendedJourneys"] == [str(published.journey.id), str(draft.journey.id)]
    assert stored["questions"][0]["options"][1]["scores"] == {"mindful": 3}

    async with actors.db() as session:
        cleared = await set_classification_form(
            session, tenant_id=tenant.id, onboarding_id=onboarding.id, form_input={"questions": [], "segments": []}
        )
    assert cleared.form is None
    assert (await _fresh(actors.db, onboarding.id)).form is None
    form_events = [data for type, _, data in await _events(actors.db) if type == "onboarding.form_set"]
    assert [e["cleared"] for e in form_events] == [False, True]


async def test_recommended_journeys_must_be_the_tenants_journeys(actors: Actors) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    onboarding = await _make(actors.db, tenant, steps=1)
    mine = await make_journey(actors.db, tenant)
    theirs = await make_journey(actors.db, other)
    original = _form(athlete=[str(mine.journey.id)], mindful=[])
    async with actors.db() as session:
        await set_classification_form(session, tenant_id=tenant.id, onboarding_id=onboarding.id, form_input=original)
    before = await _counts(actors.db)

    # when a segment recommends an unknown journey and another tenant's journey
    unknown = str(uuid.uuid4())
    async with actors.db() as session:
        error = await _error(
            set_classification_form(
                session,
                tenant_id=tenant.id,
                onboarding_id=onboarding.id,
                form_input=_form(
                    athlete=[str(mine.journey.id), unknown], mindful=[str(mine.journey.id), str(theirs.journey.id)]
                ),
            )
        )
    # then each is listed at its place in the input, and the form is as it was
    assert _fields(error) == [
        ("input", "segments", "0", "recommendedJourneys", "1"),
        ("input", "segments", "1", "recommendedJourneys", "1"),
    ]
    assert await _counts(actors.db) == before
    assert (await _fresh(actors.db, onboarding.id)).form == clean_form(original)


async def test_an_invalid_form_is_refused_under_input(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding = await _make(actors.db, tenant, steps=1)
    before = await _counts(actors.db)
    form_input = _form(athlete=[], mindful=[])
    form_input["questions"][0]["kind"] = "ESSAY"

    async with actors.db() as session:
        error = await _error(
            set_classification_form(session, tenant_id=tenant.id, onboarding_id=onboarding.id, form_input=form_input)
        )
    assert _fields(error) == [("input", "questions", "0", "kind")]
    assert await _counts(actors.db) == before
    assert (await _fresh(actors.db, onboarding.id)).form is None


# --- tenancy ---------------------------------------------------------------------------------------


async def test_another_tenants_onboardings_and_steps_are_not_found(actors: Actors) -> None:
    tenant, intruder = await actors.tenant(), await actors.tenant()
    onboarding = await _make(actors.db, tenant, steps=2, publish=True)
    a, b = await _fresh_steps(actors.db, tenant, onboarding.id)
    before = await _counts(actors.db)
    tid, oid = intruder.id, onboarding.id
    attempts: list[tuple[Any, tuple[str, ...]]] = [
        (lambda s: update_onboarding(s, tenant_id=tid, onboarding_id=oid, values=OnboardingFields(name="X")), ("id",)),
        (lambda s: publish_onboarding(s, tenant_id=tid, onboarding_id=oid), ("id",)),
        (lambda s: archive_onboarding(s, tenant_id=tid, onboarding_id=oid), ("id",)),
        (lambda s: add_step(s, tenant_id=tid, onboarding_id=oid, values=StepFields(name="X")), ("onboardingId",)),
        (lambda s: update_step(s, tenant_id=tid, step_id=a.id, values=StepFields(name="X")), ("id",)),
        (lambda s: remove_step(s, tenant_id=tid, step_id=a.id), ("id",)),
        (lambda s: reorder_steps(s, tenant_id=tid, onboarding_id=oid, step_ids=[b.id, a.id]), ("onboardingId",)),
        (
            lambda s: set_classification_form(s, tenant_id=tid, onboarding_id=oid, form_input={}),
            ("onboardingId",),
        ),
    ]
    for attempt, field in attempts:
        async with actors.db() as session:
            error = await _error(attempt(session))
        assert (error.code, error.field) == (ErrorCode.NOT_FOUND, field)
    assert await _counts(actors.db) == before
    assert await _steps(actors.db, tenant, onboarding.id) == [(1, "Step 1"), (2, "Step 2")]

    async with actors.db() as session:
        assert await get_onboarding(session, tenant_id=tid, onboarding_id=oid) is None
        assert await onboardings_by_ids(session, tenant_id=tid, ids=[oid]) == {}
        assert await steps_by_ids(session, tenant_id=tid, ids=[a.id]) == {}
        assert await steps_of_onboardings(session, tenant_id=tid, onboarding_ids=[oid]) == {oid: []}
        assert (await list_onboardings(session, tenant_id=tid, statuses=(), first=10, after=None)).items == []


# --- reads -------------------------------------------------------------------------------------------


async def test_listings_are_newest_first_by_status_and_page_by_keyset(actors: Actors) -> None:
    tenant = await actors.tenant()
    draft = await _make(actors.db, tenant, slug="draft")
    old = await _make(actors.db, tenant, steps=1, publish=True, slug="old")
    middle = await _make(actors.db, tenant, steps=1, publish=True, slug="middle")
    archived = await _make(actors.db, tenant, steps=1, slug="archived")
    new = await _make(actors.db, tenant, steps=1, publish=True, slug="new")
    async with actors.db() as session:
        await archive_onboarding(session, tenant_id=tenant.id, onboarding_id=archived.id)

    async with actors.db() as session:
        published = await list_onboardings(session, tenant_id=tenant.id, first=10, after=None)
        first_page = await list_onboardings(session, tenant_id=tenant.id, first=2, after=None)
        last = first_page.items[-1]
        second_page = await list_onboardings(session, tenant_id=tenant.id, first=2, after=(last.created_at, last.id))
        everything = await list_onboardings(session, tenant_id=tenant.id, statuses=(), first=10, after=None)
        drafts_and_archived = await list_onboardings(
            session,
            tenant_id=tenant.id,
            statuses=(OnboardingStatus.DRAFT, OnboardingStatus.ARCHIVED),
            first=10,
            after=None,
        )
    assert [o.slug for o in published.items] == ["new", "middle", "old"]
    assert not published.has_next
    assert ([o.slug for o in first_page.items], first_page.has_next) == (["new", "middle"], True)
    assert ([o.slug for o in second_page.items], second_page.has_next) == (["old"], False)
    assert [o.slug for o in everything.items] == ["new", "archived", "middle", "old", "draft"]
    assert [o.slug for o in drafts_and_archived.items] == ["archived", "draft"]

    async with actors.db() as session:
        assert await get_onboarding(session, tenant_id=tenant.id, onboarding_id=draft.id) is not None
        assert await get_onboarding(session, tenant_id=tenant.id, onboarding_id=draft.id, published_only=True) is None
        found = await get_onboarding(session, tenant_id=tenant.id, onboarding_id=new.id, published_only=True)
        by_ids = await onboardings_by_ids(session, tenant_id=tenant.id, ids=[old.id, middle.id, uuid.uuid4()])
    assert found is not None and found.slug == "new"
    assert {k: o.slug for k, o in by_ids.items()} == {old.id: "old", middle.id: "middle"}


async def test_steps_of_many_onboardings_come_in_order_from_one_statement(
    actors: Actors, statements: StatementCounter
) -> None:
    tenant = await actors.tenant()
    first = await _make(actors.db, tenant, steps=3)
    second = await _make(actors.db, tenant, steps=2)
    empty = await _make(actors.db, tenant)
    a1, a2, a3 = await _fresh_steps(actors.db, tenant, first.id)
    async with actors.db() as session:
        await reorder_steps(session, tenant_id=tenant.id, onboarding_id=first.id, step_ids=[a3.id, a1.id, a2.id])

    async with actors.db() as session:
        async with statements.measure() as counter:
            grouped = await steps_of_onboardings(
                session, tenant_id=tenant.id, onboarding_ids=[first.id, second.id, empty.id]
            )
        assert counter.count == 1
        by_ids = await steps_by_ids(session, tenant_id=tenant.id, ids=[a1.id, a3.id, uuid.uuid4()])
    assert [s.name for s in grouped[first.id]] == ["Step 3", "Step 1", "Step 2"]
    assert [s.position for s in grouped[first.id]] == [1, 2, 3]
    assert [s.name for s in grouped[second.id]] == ["Step 1", "Step 2"]
    assert grouped[empty.id] == []
    assert {k: s.name for k, s in by_ids.items()} == {a1.id: "Step 1", a3.id: "Step 3"}


# --- events ----------------------------------------------------------------------------------------


async def test_each_admin_change_records_its_event_on_the_admin_channel(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant)
    async with actors.db() as session:
        await session.execute(text("DELETE FROM outbox_events"))

    onboarding = await _make(actors.db, tenant, slug="welcome")
    async with actors.db() as session:
        oid = onboarding.id
        one = await add_step(session, tenant_id=tenant.id, onboarding_id=oid, values=StepFields(name="One"))
        two = await add_step(session, tenant_id=tenant.id, onboarding_id=oid, values=StepFields(name="Two"))
        await update_step(session, tenant_id=tenant.id, step_id=one.id, values=StepFields(name="First"))
        await reorder_steps(session, tenant_id=tenant.id, onboarding_id=oid, step_ids=[two.id, one.id])
        await remove_step(session, tenant_id=tenant.id, step_id=one.id)
        await update_onboarding(
            session, tenant_id=tenant.id, onboarding_id=oid, values=OnboardingFields(name="Hi", xp_reward=5)
        )
        await set_classification_form(
            session,
            tenant_id=tenant.id,
            onboarding_id=oid,
            form_input=_form(athlete=[str(journey.journey.id)], mindful=[]),
        )
        await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=oid)
        await archive_onboarding(session, tenant_id=tenant.id, onboarding_id=oid)

    events = await _events(actors.db)
    assert [t for t, _, _ in events] == [
        "onboarding.created",
        "onboarding_step.added",
        "onboarding_step.added",
        "onboarding_step.updated",
        "onboarding_step.reordered",
        "onboarding_step.removed",
        "onboarding.updated",
        "onboarding.form_set",
        "onboarding.published",
        "onboarding.archived",
    ]
    assert all(user_id is None for _, user_id, _ in events)
    assert all(data["onboardingId"] == str(oid) and data["slug"] == "welcome" for _, _, data in events)
    data = [d for _, _, d in events]
    assert data[1]["stepId"] == str(one.id) and data[1]["order"] == 1
    assert data[3]["fields"] == ["name"]
    assert data[4]["stepIds"] == [str(two.id), str(one.id)]
    assert data[5]["stepId"] == str(one.id)
    assert data[6]["fields"] == ["name", "xp_reward"]
    assert [d["status"] for d in data[-2:]] == ["PUBLISHED", "ARCHIVED"]
