"""The journey report and the onboarding report (one onboarding, and the whole tenant) on a real
database: thousands of generated runs, bulk-inserted, on every version of their content and in
every status, some started outside the range and some by other journeys, onboardings or tenants,
plus a few runs made through the API; every figure is checked against a recount in Python from
the stored rows, through the service and over HTTP. Also: admins only, unknown ids, and a number
of statements that does not depend on the number of runs."""

from __future__ import annotations

import random
import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text

from app.catalog.service import EventFields, add_event, publish_journey, remove_event, reorder_events, update_event
from app.graphql.relay import local_id, to_global_id
from app.onboarding.authoring import (
    OnboardingFields,
    StepFields,
    add_step,
    create_onboarding,
    publish_onboarding,
    remove_step,
)
from app.onboarding.models import OnboardingJourney, OnboardingLog
from app.onboarding.report import onboarding_report
from app.progress.models import EventInstance, JourneyInstance, event_instance_id
from app.progress.report import journey_report
from app.reports.runs import RunFigures
from app.tenancy.models import Tenant, User
from app.versions.kinds import table_of
from tests.conftest import Actors, GraphQLClient, StatementCounter
from tests.progress_support import make_journey

STATUSES = ("ACTIVE", "SUSPENDED", "COMPLETED", "ABANDONED")
OPEN = ("ACTIVE", "SUSPENDED")
# Generated runs start in the 50 days from EPOCH; runs made through the API start now, after them.
EPOCH = (datetime.now(UTC) - timedelta(days=200)).replace(microsecond=0)
START, END = EPOCH + timedelta(days=10), EPOCH + timedelta(days=40)
RANGES = ((None, None), (START, END), (START, None), (None, END))

FIGURES = """
  total active suspended completed abandoned completionRate medianSecondsToComplete averageProgress
"""
JOURNEY_REPORT = f"""
query JourneyReport($journeyId: ID!, $from: DateTime, $to: DateTime) {{
  journeyReport(journeyId: $journeyId, from: $from, to: $to) {{
    {FIGURES} events {{ event {{ id position title }} reached completed dropOff }}
  }}
}}
"""
ONBOARDING_REPORT = f"""
query OnboardingReport($onboardingId: ID, $from: DateTime, $to: DateTime) {{
  onboardingReport(onboardingId: $onboardingId, from: $from, to: $to) {{
    {FIGURES} steps {{ step {{ id order name }} reached completed dropOff }}
  }}
}}
"""


@dataclass
class StoredRun:
    """A run as the recount reads it back: its version, status, times, current step (onboardings)
    and what it did per item (journeys: the event's status; onboardings: the actions logged)."""

    id: uuid.UUID
    parent: uuid.UUID
    version: int
    status: str
    started_at: datetime
    completed_at: datetime | None
    current_step: int = 0
    items: dict[uuid.UUID, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- recount (plain Python)


def _in_range(runs: list[StoredRun], start: datetime | None, end: datetime | None) -> list[StoredRun]:
    return [r for r in runs if (start is None or r.started_at >= start) and (end is None or r.started_at < end)]


def _run_figures(runs: list[StoredRun], percent_of: Any) -> dict[str, Any]:
    durations = [
        (r.completed_at - r.started_at).total_seconds() for r in runs if r.status == "COMPLETED" and r.completed_at
    ]
    count = {s: sum(1 for r in runs if r.status == s) for s in STATUSES}
    return {
        "total": len(runs),
        "active": count["ACTIVE"],
        "suspended": count["SUSPENDED"],
        "completed": count["COMPLETED"],
        "abandoned": count["ABANDONED"],
        "completionRate": count["COMPLETED"] / len(runs) if runs else 0.0,
        "medianSecondsToComplete": statistics.median(durations) if durations else None,
        "averageProgress": statistics.fmean(map(percent_of, runs)) if runs else 0.0,
    }


def _approx(expected: dict[str, Any]) -> dict[str, Any]:
    """The recount with its floats compared approximately (SQL sums in another order)."""
    floats = ("completionRate", "medianSecondsToComplete", "averageProgress")
    return {k: pytest.approx(v) if k in floats and v is not None else v for k, v in expected.items()}


def _journey_recount(
    runs: list[StoredRun], versions: dict[int, list[uuid.UUID]], start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    counted = _in_range(runs, start, end)

    def percent(run: StoredRun) -> float:
        events = versions[run.version]
        done = sum(1 for e in events if run.items.get(e) == "COMPLETED")
        return 100.0 * done / len(events) if events else 0.0

    events = []
    for event in versions[max(versions)]:
        reached = [r for r in counted if event in r.items]
        completed = [r for r in reached if r.items[event] == "COMPLETED"]
        dropped = [r for r in reached if r.items[event] != "COMPLETED" and r.status not in OPEN]
        events.append((str(event), len(reached), len(completed), len(dropped)))
    return {**_run_figures(counted, percent), "events": events}


def _onboarding_recount(
    runs: list[StoredRun],
    versions: dict[uuid.UUID, dict[int, list[uuid.UUID]]],
    onboarding_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
) -> dict[str, Any]:
    counted = _in_range([r for r in runs if onboarding_id in (None, r.parent)], start, end)

    def percent(run: StoredRun) -> float:
        steps = len(versions[run.parent][run.version])
        return 100.0 if run.status == "COMPLETED" else 100.0 * min(run.current_step - 1, steps) / steps

    steps = []
    if onboarding_id is not None:
        latest = versions[onboarding_id][max(versions[onboarding_id])]
        for order, step in enumerate(latest, start=1):
            reached = [r for r in counted if "started" in r.items.get(step, ())]
            completed = [r for r in counted if "completed" in r.items.get(step, ())]
            dropped = [
                r
                for r in reached
                if "completed" not in r.items[step] and not (r.status in OPEN and r.current_step == order)
            ]
            steps.append((str(step), len(reached), len(completed), len(dropped)))
    return {**_run_figures(counted, percent), "steps": steps}


def _service_figures(report: RunFigures, key: str, items: list[tuple[str, int, int, int]]) -> dict[str, Any]:
    return {
        "total": report.total,
        "active": report.active,
        "suspended": report.suspended,
        "completed": report.completed,
        "abandoned": report.abandoned,
        "completionRate": report.completion_rate,
        "medianSecondsToComplete": report.median_seconds_to_complete,
        "averageProgress": report.average_progress,
        key: items,
    }


def _api_figures(data: dict[str, Any], kind: str, item: str, node: str) -> dict[str, Any]:
    figures = {name: data[name] for name in FIGURES.split()}
    figures[kind] = [
        (str(local_id(f[item]["id"], node)), f["reached"], f["completed"], f["dropOff"]) for f in data[kind]
    ]
    return figures


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------- content with versions


async def _rows(db: Any, sql: str, **params: Any) -> list[Any]:
    async with db() as session:
        return list(await session.execute(text(sql), params))


async def _journey_versions(db: Any, journey_id: uuid.UUID) -> dict[int, list[uuid.UUID]]:
    versions: dict[int, list[uuid.UUID]] = defaultdict(list)
    for version, event_id in await _rows(
        db,
        "SELECT version, id FROM journey_event_versions WHERE journey_id = :j ORDER BY version, position",
        j=journey_id,
    ):
        versions[version].append(event_id)
    return dict(versions)


async def _three_versions(db: Any, tenant: Tenant) -> tuple[uuid.UUID, uuid.UUID]:
    """A journey published three times: v1 has events a b c d; v2 drops d, renames b and adds e;
    v3 adds f and moves it first. Returns the journey's id and d's (in old runs only)."""
    made = await make_journey(db, tenant, offsets=[0, 1, None, 2])
    journey_id = made.journey.id
    a, b, c, d = (e.id for e in made.events)
    async with db() as session:
        await remove_event(session, tenant_id=tenant.id, event_id=d)
        await update_event(session, tenant_id=tenant.id, event_id=b, values=EventFields(title="Renamed"))
        e = await add_event(session, tenant_id=tenant.id, journey_id=journey_id, values=EventFields(title="E"))
        await publish_journey(session, tenant_id=tenant.id, journey_id=journey_id)
    async with db() as session:
        f = await add_event(session, tenant_id=tenant.id, journey_id=journey_id, values=EventFields(title="F"))
        await reorder_events(session, tenant_id=tenant.id, journey_id=journey_id, event_ids=[f.id, a, b, c, e.id])
        await publish_journey(session, tenant_id=tenant.id, journey_id=journey_id)
    return journey_id, d


async def _two_onboarding_versions(db: Any, tenant: Tenant) -> uuid.UUID:
    """An onboarding published twice: v1 has steps 1 2 3; v2 drops 2 and adds 4 and 5."""
    async with db() as session:
        onboarding = await create_onboarding(
            session, tenant_id=tenant.id, values=OnboardingFields(slug=f"o-{uuid.uuid4().hex[:8]}", name="Welcome")
        )
        steps = [
            await add_step(session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name=f"S{n}"))
            for n in (1, 2, 3)
        ]
        await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id)
    async with db() as session:
        await remove_step(session, tenant_id=tenant.id, step_id=steps[1].id)
        for n in (4, 5):
            await add_step(session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name=f"S{n}"))
        await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id)
    return onboarding.id


async def _onboarding_versions(db: Any, tenant: Tenant) -> dict[uuid.UUID, dict[int, list[uuid.UUID]]]:
    versions: dict[uuid.UUID, dict[int, list[uuid.UUID]]] = defaultdict(lambda: defaultdict(list))
    for onboarding_id, version, step_id in await _rows(
        db,
        "SELECT onboarding_id, version, id FROM onboarding_step_versions WHERE tenant_id = :t "
        "ORDER BY onboarding_id, version, position",
        t=tenant.id,
    ):
        versions[onboarding_id][version].append(step_id)
    return versions


# ---------------------------------------------------------------- generated runs, bulk-inserted


def _started(rng: random.Random, status: str) -> tuple[datetime, datetime | None]:
    started_at = EPOCH + timedelta(seconds=rng.randrange(0, 50 * 86_400))
    done = started_at + timedelta(seconds=rng.randrange(60, 20 * 86_400)) if status == "COMPLETED" else None
    return started_at, done


async def _users(session: Any, tenant: Tenant, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    rows = [{"id": i, "tenant_id": tenant.id, "external_id": f"gen-{i.hex}"} for i in ids]
    await session.execute(insert(table_of(User)), rows)
    return ids


async def _insert_journey_runs(
    db: Any, rng: random.Random, tenant: Tenant, journey_id: uuid.UUID, count: int, removed: uuid.UUID | None = None
) -> None:
    """``count`` runs on the journey's versions in every status, with event instances as the
    service would leave them; some runs on later versions keep a row of ``removed`` (an event
    of an earlier version, as an upgraded run does)."""
    versions = await _journey_versions(db, journey_id)
    numbers = sorted(versions)
    runs, events = [], []
    async with db() as session:
        for user_id in await _users(session, tenant, count):
            version = rng.choices(numbers, weights=range(1, len(numbers) + 1))[0]
            status = rng.choices(STATUSES, weights=[3, 2, 3, 2])[0]
            started_at, completed_at = _started(rng, status)
            run_id = uuid.uuid4()
            runs.append(
                {
                    "id": run_id,
                    "tenant_id": tenant.id,
                    "user_id": user_id,
                    "journey_id": journey_id,
                    "journey_version": version,
                    "status": status,
                    "started_at": started_at,
                    "started_on": started_at.date(),
                    "timezone": "UTC",
                    "completed_at": completed_at,
                    "ended_at": completed_at,
                }
            )
            states: dict[uuid.UUID, str] = {}
            for event in versions[version]:
                pick = "COMPLETED" if status == "COMPLETED" else rng.choice(["", "", "IN_PROGRESS", "COMPLETED"])
                if pick:
                    states[event] = pick
            if status != "COMPLETED" and len(states) == len(versions[version]):
                states[versions[version][-1]] = "IN_PROGRESS"  # an unfinished run has something left
            if removed is not None and version > 1 and rng.random() < 0.15:
                states[removed] = rng.choice(["IN_PROGRESS", "COMPLETED"])
            events.extend(
                {
                    "id": event_instance_id(run_id, event),
                    "tenant_id": tenant.id,
                    "instance_id": run_id,
                    "journey_event_id": event,
                    "status": state,
                    "started_at": started_at,
                    "completed_at": started_at if state == "COMPLETED" else None,
                }
                for event, state in states.items()
            )
        await session.execute(insert(table_of(JourneyInstance)), runs)
        await session.execute(insert(table_of(EventInstance)), events)


async def _insert_onboarding_runs(
    db: Any, rng: random.Random, tenant: Tenant, onboarding_id: uuid.UUID, count: int
) -> None:
    """``count`` runs on the onboarding's versions in every status, logged as the lifecycle logs
    them, with noise: repeated and free-form logs, and logs of no step."""
    versions = (await _onboarding_versions(db, tenant))[onboarding_id]
    numbers = sorted(versions)
    runs, logs = [], []
    async with db() as session:
        for user_id in await _users(session, tenant, count):
            version = rng.choice(numbers)
            steps = versions[version]
            status = rng.choices(STATUSES, weights=[3, 2, 4, 3])[0]
            started_at, completed_at = _started(rng, status)
            current = len(steps) if status == "COMPLETED" else rng.randint(1, len(steps))
            run_id = uuid.uuid4()
            runs.append(
                {
                    "id": run_id,
                    "tenant_id": tenant.id,
                    "user_id": user_id,
                    "onboarding_id": onboarding_id,
                    "onboarding_version": version,
                    "status": status,
                    "current_step": current,
                    "started_at": started_at,
                    "completed_at": completed_at,
                    "updated_at": completed_at or started_at,
                }
            )
            actions: list[tuple[uuid.UUID | None, str]] = []
            for order, step in enumerate(steps[:current], start=1):
                actions.append((step, "started"))
                if rng.random() < 0.1:
                    actions.append((step, rng.choice(["started", "viewed_video"])))
                if order < current or status == "COMPLETED":
                    actions.append((step, "completed"))
            if rng.random() < 0.05:
                actions.append((None, "completed"))
            logs.extend(
                {
                    "tenant_id": tenant.id,
                    "journey_id": run_id,
                    "step_id": step,
                    "step_name": "S",
                    "step_order": 1,
                    "action": action,
                    "logged_at": started_at,
                }
                for step, action in actions
            )
        await session.execute(insert(table_of(OnboardingJourney)), runs)
        await session.execute(insert(table_of(OnboardingLog)), logs)


# ---------------------------------------------------------------- the stored rows, read back


async def _stored_journey_runs(db: Any, journey_id: uuid.UUID) -> list[StoredRun]:
    runs = {
        r.id: StoredRun(r.id, journey_id, r.journey_version, r.status, r.started_at, r.completed_at)
        for r in await _rows(
            db,
            "SELECT id, journey_version, status, started_at, completed_at FROM journey_instances WHERE journey_id = :j",
            j=journey_id,
        )
    }
    for instance_id, event_id, status in await _rows(
        db,
        "SELECT e.instance_id, e.journey_event_id, e.status FROM event_instances e "
        "JOIN journey_instances i ON i.id = e.instance_id WHERE i.journey_id = :j",
        j=journey_id,
    ):
        runs[instance_id].items[event_id] = status
    return list(runs.values())


async def _stored_onboarding_runs(db: Any, tenant: Tenant) -> list[StoredRun]:
    runs = {
        r.id: StoredRun(
            r.id, r.onboarding_id, r.onboarding_version, r.status, r.started_at, r.completed_at, r.current_step
        )
        for r in await _rows(
            db,
            "SELECT id, onboarding_id, onboarding_version, status, current_step, started_at, completed_at "
            "FROM onboarding_journeys WHERE tenant_id = :t",
            t=tenant.id,
        )
    }
    for journey_id, step_id, action in await _rows(
        db, "SELECT journey_id, step_id, action FROM onboarding_logs WHERE tenant_id = :t", t=tenant.id
    ):
        if step_id is not None:
            runs[journey_id].items.setdefault(step_id, set()).add(action)
    return list(runs.values())


# ---------------------------------------------------------------- runs through the API


async def _api_journey_runs(actors: Actors, tenant: Tenant, journey_id: uuid.UUID) -> None:
    """Four users on the latest version: one completes every event, one starts an event,
    completes another and gives up, one completes an event and pauses, one only starts."""
    journey = to_global_id("Journey", journey_id)
    latest = await _journey_versions(actors.db, journey_id)
    events = [to_global_id("JourneyEvent", e) for e in latest[max(latest)]]
    clients = [actors.user(tenant, f"api-{n}") for n in range(4)]
    runs = []
    for client in clients:
        started = await client.data(
            "mutation($id: ID!) { startJourney(journeyId: $id) { instance { id } errors { code } } }", {"id": journey}
        )
        assert started["startJourney"]["errors"] == []
        runs.append(started["startJourney"]["instance"]["id"])

    async def act(client: GraphQLClient, field: str, run: str, event: str | None = None) -> None:
        if event is None:
            document = f"mutation($run: ID!) {{ {field}(instanceId: $run) {{ errors {{ code }} }} }}"
        else:
            document = (
                f"mutation($run: ID!, $event: ID!) {{ {field}(instanceId: $run, journeyEventId: $event) "
                "{ errors { code } } }"
            )
        assert (await client.data(document, {"run": run, "event": event}))[field]["errors"] == []

    for event in events:
        await act(clients[0], "completeEvent", runs[0], event)
    await act(clients[1], "startEvent", runs[1], events[0])
    await act(clients[1], "completeEvent", runs[1], events[1])
    await act(clients[1], "abandonJourney", runs[1])
    await act(clients[2], "completeEvent", runs[2], events[2])
    await act(clients[2], "suspendJourney", runs[2])


async def _api_onboarding_runs(actors: Actors, tenant: Tenant, onboarding_id: uuid.UUID) -> None:
    """Three users on the latest version: one progresses twice, one gives up, one pauses."""
    onboarding = to_global_id("Onboarding", onboarding_id)
    for n, moves in enumerate((["progressOnboarding"] * 2, ["abandonOnboarding"], ["suspendOnboarding"])):
        client = actors.user(tenant, f"api-o-{n}")
        started = await client.data(
            "mutation($id: ID!) { startOnboarding(onboardingId: $id) { onboardingJourney { id } errors { code } } }",
            {"id": onboarding},
        )
        run = started["startOnboarding"]["onboardingJourney"]["id"]
        for move in moves:
            done = await client.data(
                f"mutation($id: ID!) {{ {move}(journeyId: $id) {{ errors {{ code }} }} }}", {"id": run}
            )
            assert done[move]["errors"] == []


# ---------------------------------------------------------------- the tests


async def test_the_journey_report_matches_a_recount_of_thousands_of_runs(actors: Actors) -> None:
    # given a journey with three versions and 2,400 generated runs on them, four more made
    # through the API, and runs of another journey and of another tenant
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    journey_id, removed = await _three_versions(actors.db, tenant)
    rng = random.Random(15)
    await _insert_journey_runs(actors.db, rng, tenant, journey_id, 2400, removed)
    await _api_journey_runs(actors, tenant, journey_id)
    other = await make_journey(actors.db, tenant, offsets=[0, None])
    await _insert_journey_runs(actors.db, rng, tenant, other.journey.id, 200)
    foreign = await make_journey(actors.db, other_tenant, offsets=[0])
    await _insert_journey_runs(actors.db, rng, other_tenant, foreign.journey.id, 50)

    runs = await _stored_journey_runs(actors.db, journey_id)
    versions = await _journey_versions(actors.db, journey_id)
    assert len(runs) == 2404 and sorted({r.version for r in runs}) == [1, 2, 3]
    admin = actors.admin(tenant)
    for start, end in RANGES:
        # when the report is asked for, through the service and over HTTP
        async with actors.db() as session:
            report = await journey_report(
                session, tenant_id=tenant.id, journey_id=journey_id, started_from=start, started_to=end
            )
        served = await admin.data(
            JOURNEY_REPORT,
            {"journeyId": to_global_id("Journey", journey_id), "from": _stamp(start), "to": _stamp(end)},
        )
        # then every figure is the recount's
        expected = _approx(_journey_recount(runs, versions, start, end))
        items = [(str(f.event.id), f.reached, f.completed, f.drop_off) for f in report.events]
        assert _service_figures(report, "events", items) == expected, (start, end)
        assert _api_figures(served["journeyReport"], "events", "event", "JourneyEvent") == expected, (start, end)
        # the events are the latest version's, in its order and with its titles
        assert [(e["event"]["position"], e["event"]["title"]) for e in served["journeyReport"]["events"]] == [
            (1, "F"),
            (2, "Step 1"),
            (3, "Renamed"),
            (4, "Step 3"),
            (5, "E"),
        ]

    # the population is varied enough for each figure to mean something
    whole, ranged = _journey_recount(runs, versions, None, None), _journey_recount(runs, versions, START, END)
    assert 0 < ranged["total"] < whole["total"]
    assert min(whole["active"], whole["suspended"], whole["completed"], whole["abandoned"]) > 100
    assert all(reached > completed and dropped > 0 for _, reached, completed, dropped in whole["events"])
    assert 0 < whole["averageProgress"] < 100
    assert any(removed in r.items for r in runs)  # rows of the removed event count for no event


async def test_the_onboarding_report_for_one_and_for_every_onboarding_matches_a_recount(actors: Actors) -> None:
    # given two onboardings with two versions each, 2,100 generated runs on them, three more
    # made through the API, and another tenant's runs
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    first, second = await _two_onboarding_versions(actors.db, tenant), await _two_onboarding_versions(actors.db, tenant)
    rng = random.Random(16)
    await _insert_onboarding_runs(actors.db, rng, tenant, first, 1200)
    await _insert_onboarding_runs(actors.db, rng, tenant, second, 900)
    await _api_onboarding_runs(actors, tenant, first)
    foreign = await _two_onboarding_versions(actors.db, other_tenant)
    await _insert_onboarding_runs(actors.db, rng, other_tenant, foreign, 60)

    runs = await _stored_onboarding_runs(actors.db, tenant)
    versions = await _onboarding_versions(actors.db, tenant)
    assert len(runs) == 2103 and {r.version for r in runs} == {1, 2}
    admin = actors.admin(tenant)
    for onboarding_id in (None, first, second):
        for start, end in RANGES:
            async with actors.db() as session:
                report = await onboarding_report(
                    session, tenant_id=tenant.id, onboarding_id=onboarding_id, started_from=start, started_to=end
                )
            served = await admin.data(
                ONBOARDING_REPORT,
                {
                    "onboardingId": to_global_id("Onboarding", onboarding_id) if onboarding_id else None,
                    "from": _stamp(start),
                    "to": _stamp(end),
                },
            )
            expected = _approx(_onboarding_recount(runs, versions, onboarding_id, start, end))
            items = [(str(f.step.id), f.reached, f.completed, f.drop_off) for f in report.steps]
            assert _service_figures(report, "steps", items) == expected, (onboarding_id, start, end)
            api = _api_figures(served["onboardingReport"], "steps", "step", "OnboardingStep")
            assert api == expected, (onboarding_id, start, end)

    # the tenant's report is every run of the tenant, with no steps; one onboarding's has its
    # latest version's four steps
    whole = _onboarding_recount(runs, versions, None, None, None)
    assert whole["total"] == 2103 and whole["steps"] == []
    one = _onboarding_recount(runs, versions, first, None, None)
    assert len(one["steps"]) == 4 and all(dropped > 0 for *_, dropped in one["steps"])
    assert min(one["active"], one["suspended"], one["completed"], one["abandoned"]) > 50
    assert 0 < _onboarding_recount(runs, versions, None, START, END)["total"] < 2103


async def test_report_statements_do_not_depend_on_the_number_of_runs(
    actors: Actors, statements: StatementCounter
) -> None:
    tenant = await actors.tenant()
    small, _ = await _three_versions(actors.db, tenant)
    large, removed = await _three_versions(actors.db, tenant)
    few, many = await _two_onboarding_versions(actors.db, tenant), await _two_onboarding_versions(actors.db, tenant)
    rng = random.Random(17)
    await _insert_journey_runs(actors.db, rng, tenant, small, 3)
    await _insert_journey_runs(actors.db, rng, tenant, large, 2000, removed)
    await _insert_onboarding_runs(actors.db, rng, tenant, few, 3)
    await _insert_onboarding_runs(actors.db, rng, tenant, many, 2000)

    # through the services: two statements per report, one for the whole tenant
    counts = []
    for journey_id in (small, large):
        async with actors.db() as session, statements.measure() as counter:
            await journey_report(
                session, tenant_id=tenant.id, journey_id=journey_id, started_from=None, started_to=None
            )
        counts.append(counter.count)
    for onboarding_id in (few, many, None):
        async with actors.db() as session, statements.measure() as counter:
            await onboarding_report(
                session, tenant_id=tenant.id, onboarding_id=onboarding_id, started_from=START, started_to=None
            )
        counts.append(counter.count)
    assert counts == [2, 2, 2, 2, 1]

    # over HTTP: the same for a journey of 3 runs as for one of 2,000
    admin = actors.admin(tenant)
    await admin.data("{ viewer { id } }")
    over_http = []
    for document, variables in (
        (JOURNEY_REPORT, {"journeyId": to_global_id("Journey", small)}),
        (JOURNEY_REPORT, {"journeyId": to_global_id("Journey", large)}),
        (ONBOARDING_REPORT, {"onboardingId": to_global_id("Onboarding", few)}),
        (ONBOARDING_REPORT, {"onboardingId": to_global_id("Onboarding", many)}),
    ):
        async with statements.measure() as counter:
            await admin.data(document, variables)
        over_http.append(counter.count)
    assert over_http[0] == over_http[1] and over_http[2] == over_http[3]


async def test_reports_are_for_admins_and_unknown_ids_are_null(actors: Actors) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    journey_id, _ = await _three_versions(actors.db, tenant)
    onboarding_id = await _two_onboarding_versions(actors.db, tenant)
    foreign_journey = await make_journey(actors.db, other_tenant, offsets=[0])
    foreign_onboarding = await _two_onboarding_versions(actors.db, other_tenant)
    journey, onboarding = to_global_id("Journey", journey_id), to_global_id("Onboarding", onboarding_id)

    # a user may not read them, whatever they ask for
    user = actors.user(tenant, "alice")
    assert await user.error_codes(JOURNEY_REPORT, {"journeyId": journey}) == ["FORBIDDEN"]
    assert await user.error_codes(ONBOARDING_REPORT, {"onboardingId": onboarding}) == ["FORBIDDEN"]
    assert await user.error_codes(ONBOARDING_REPORT, {"onboardingId": None}) == ["FORBIDDEN"]
    assert await actors.anonymous().error_codes(JOURNEY_REPORT, {"journeyId": journey}) == ["UNAUTHENTICATED"]

    # an admin gets null for another tenant's, an unknown, a malformed or another type's id
    admin = actors.admin(tenant)
    for missing in (
        to_global_id("Journey", foreign_journey.journey.id),
        to_global_id("Journey", uuid.uuid4()),
        "not-an-id",
        onboarding,
    ):
        assert (await admin.data(JOURNEY_REPORT, {"journeyId": missing}))["journeyReport"] is None, missing
    for missing in (to_global_id("Onboarding", foreign_onboarding), to_global_id("Onboarding", uuid.uuid4()), journey):
        assert (await admin.data(ONBOARDING_REPORT, {"onboardingId": missing}))["onboardingReport"] is None, missing

    # and zeros for content without runs (the other tenant's runs never count)
    await _insert_onboarding_runs(actors.db, random.Random(1), other_tenant, foreign_onboarding, 20)
    empty = (await admin.data(JOURNEY_REPORT, {"journeyId": journey}))["journeyReport"]
    assert (empty["total"], empty["completionRate"], empty["medianSecondsToComplete"], empty["averageProgress"]) == (
        0,
        0.0,
        None,
        0.0,
    )
    assert [(e["reached"], e["completed"], e["dropOff"]) for e in empty["events"]] == [(0, 0, 0)] * 5
    tenant_wide = (await admin.data(ONBOARDING_REPORT, {}))["onboardingReport"]
    assert (tenant_wide["total"], tenant_wide["averageProgress"], tenant_wide["steps"]) == (0, 0.0, [])
