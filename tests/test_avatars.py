"""Avatar sessions at the service level, against a real database and a local server speaking
LiveKit's RoomService: what the room request carries, the participant token, every failure
of LiveKit (erroring, timing out, failing on delete) leaving clean state once the
reconciliation pass has run, and avatar authoring rules."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.avatars import rooms, service
from app.avatars.authoring import AvatarFields, create_avatar, update_avatar
from app.avatars.livekit import LiveKit
from app.avatars.models import AvatarMode, AvatarSessionStatus
from app.avatars.reconcile import Reconciler, reconcile_once
from app.avatars.units import UnitRunner, in_transactions
from app.config import ConfigError, load_settings
from app.demo import load_demo
from app.errors import DomainError, ErrorCode, InvalidInput
from app.modelbase import utcnow
from app.tenancy.models import User
from tests.avatars_support import event_data, event_types, make_avatar, session_row, sessions
from tests.conftest import Actors, LiveServer
from tests.livekit_server import FakeLiveKit
from tests.progress_support import make_user

T = TypeVar("T")
LATER = timedelta(hours=2)  # far enough ahead that every retry is due


@pytest.fixture
def livekit(livekit_server: FakeLiveKit) -> Iterator[FakeLiveKit]:
    livekit_server.reset()
    yield livekit_server
    livekit_server.reset()


@pytest.fixture
def lk(server: LiveServer) -> LiveKit:
    """The application's own LiveKit client (1 s timeout in the test settings)."""
    assert server.runtime.livekit is not None
    return server.runtime.livekit


@pytest.fixture
def run(server: LiveServer) -> UnitRunner:
    return in_transactions(server.runtime.sessions)


async def _start(run: UnitRunner, lk: LiveKit | None, user: User, avatar_id: uuid.UUID, **kw: Any) -> Any:
    return await service.start_session(
        run, livekit=lk, tenant_id=user.tenant_id, user=user, avatar_id=avatar_id, mode=AvatarMode.VOICE, **kw
    )


async def _end(run: UnitRunner, lk: LiveKit, user: User, session_id: uuid.UUID, admin: bool = False) -> Any:
    return await service.end_session(
        run, livekit=lk, tenant_id=user.tenant_id, user_id=user.id, is_admin=admin, session_id=session_id
    )


async def _code(call: Awaitable[Any]) -> ErrorCode:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value.code


# ---------------------------------------------------------------- starting


async def test_a_session_creates_its_own_room_and_a_token_for_it_only(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    # given a user and an avatar
    tenant = await actors.tenant()
    user = await make_user(db, tenant, "alice")
    avatar = await make_avatar(db, tenant)

    # when they start a session
    started = await _start(run, lk, user, avatar.id, device_id="phone-1", is_authenticated=True)

    # then LiveKit was asked for one room named after the session, as protobuf, with a service token
    [create] = livekit.calls("CreateRoom")
    session = started.session
    assert create.content_type == "application/protobuf"
    assert create.claims["iss"] == livekit.api_key and create.claims["video"]["roomCreate"] is True
    assert create.message.name == f"avatar-{session.id}" == session.livekit_room_name
    assert create.message.empty_timeout == service.EMPTY_TIMEOUT_SECONDS
    assert create.message.max_participants == service.MAX_PARTICIPANTS
    metadata = json.loads(create.message.metadata)
    assert metadata["tenantId"] == str(tenant.id) and metadata["sessionId"] == str(session.id)
    assert metadata["userId"] == str(user.id) and metadata["avatarId"] == str(avatar.id)

    # and the session is stored ACTIVE with the room's sid and the client's details
    stored = await session_row(db, session.id)
    assert stored.status is AvatarSessionStatus.ACTIVE
    assert stored.livekit_room_sid == livekit.rooms[session.livekit_room_name].sid
    assert stored.metadata_ == {"deviceId": "phone-1", "isAuthenticated": True}

    # and the token lets this user join this room only, for at most an hour
    claims = jwt.decode(
        started.token, livekit.api_secret, algorithms=["HS256"], issuer=livekit.api_key, options={"require": ["exp"]}
    )
    assert claims["sub"] == str(user.id) and claims["name"] == "alice"
    assert claims["video"]["roomJoin"] is True and claims["video"]["room"] == session.livekit_room_name
    assert claims["video"]["canPublishSources"] == ["microphone"]
    assert not {"roomCreate", "roomList", "roomAdmin", "roomRecord"} & set(claims["video"])
    assert 0 < claims["exp"] - claims["nbf"] <= 3600 and claims["exp"] <= time.time() + 3600 + 1
    assert started.livekit_url == livekit.url.replace("http://", "ws://")

    # and it was announced once
    assert await event_types(db) == ["avatar_session.started"]
    [data] = await event_data(db, "avatar_session.started")
    assert data["sessionId"] == str(session.id) and data["mode"] == "VOICE"

    # and a second session gets a room of its own
    second = await _start(run, lk, user, avatar.id)
    assert second.session.livekit_room_name != session.livekit_room_name
    assert len(livekit.room_names()) == 2


async def test_unknown_inactive_and_unoffered_avatars_create_no_room(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    user = await make_user(db, tenant)
    voice_only = await make_avatar(db, tenant, modes=("VOICE",))
    inactive = await make_avatar(db, tenant, status="INACTIVE")
    foreign = await make_avatar(db, other)

    assert await _code(_start(run, lk, user, uuid.uuid4())) is ErrorCode.NOT_FOUND
    assert await _code(_start(run, lk, user, foreign.id)) is ErrorCode.NOT_FOUND
    assert await _code(_start(run, lk, user, inactive.id)) is ErrorCode.UNAVAILABLE
    unoffered = service.start_session(
        run, livekit=lk, tenant_id=tenant.id, user=user, avatar_id=voice_only.id, mode=AvatarMode.VIDEO
    )
    assert await _code(unoffered) is ErrorCode.UNAVAILABLE
    assert await _code(_start(run, lk, user, voice_only.id, device_id="d" * 201)) is ErrorCode.BAD_USER_INPUT

    assert livekit.requests == [] and await sessions(db) == [] and await event_types(db) == []


async def test_without_livekit_settings_sessions_are_not_configured(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner
) -> None:
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    avatar = await make_avatar(db, tenant)
    assert await _code(_start(run, None, user, avatar.id)) is ErrorCode.NOT_CONFIGURED
    assert await sessions(db) == []


# ---------------------------------------------------------------- LiveKit failing


async def test_livekit_failing_leaves_no_active_session_and_no_room(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    # given LiveKit answering 500
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    avatar = await make_avatar(db, tenant)
    livekit.error_on.add("CreateRoom")

    # when a session is started, then it is UPSTREAM_FAILED
    assert await _code(_start(run, lk, user, avatar.id)) is ErrorCode.UPSTREAM_FAILED

    # and no ACTIVE session exists (a FAILED one is kept, its room's deletion pending) and nothing was announced
    [failed] = await sessions(db)
    assert failed.status is AvatarSessionStatus.FAILED and failed.livekit_room_sid is None
    assert failed.room_cleanup_pending and await event_types(db) == []

    # when LiveKit recovers and the reconciliation runs, then the (never created) room is settled
    livekit.error_on.clear()
    report = await reconcile_once(run, lk, now=utcnow() + LATER)
    assert report.rooms_deleted == 1
    assert [c.message.room for c in livekit.calls("DeleteRoom")] == [failed.livekit_room_name]
    assert not (await session_row(db, failed.id)).room_cleanup_pending
    assert livekit.room_names() == set()


async def test_livekit_timing_out_leaves_no_room_once_reconciled(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    # given LiveKit that answers CreateRoom only after the client's 1 s timeout (and then creates it)
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    avatar = await make_avatar(db, tenant)
    livekit.delay_on["CreateRoom"] = 2.0

    # when a session is started, then it fails within the timeout
    started = time.monotonic()
    assert await _code(_start(run, lk, user, avatar.id)) is ErrorCode.UPSTREAM_FAILED
    assert time.monotonic() - started < 1.9
    [failed] = await sessions(db)
    assert failed.status is AvatarSessionStatus.FAILED

    # and when the late room appears, the reconciliation deletes it
    for _ in range(100):
        if livekit.room_names():
            break
        await asyncio.sleep(0.05)
    assert livekit.room_names() == {failed.livekit_room_name}
    livekit.delay_on.clear()
    await reconcile_once(run, lk, now=utcnow() + LATER)
    assert livekit.room_names() == set()
    assert [s.status for s in await sessions(db)] == [AvatarSessionStatus.FAILED]


async def test_storing_failing_after_the_room_exists_deletes_the_room(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    avatar = await make_avatar(db, tenant)
    units = 0

    async def failing_store(work: Callable[[AsyncSession], Awaitable[T]], /) -> T:
        # the second unit of work (storing the ACTIVE session) fails as a database outage would
        nonlocal units
        units += 1
        if units == 2:
            raise ConnectionError("database went away")
        return await run(work)

    # when storing fails, then the error propagates and the room just created is deleted
    with pytest.raises(ConnectionError):
        await _start(failing_store, lk, user, avatar.id)
    [created] = livekit.calls("CreateRoom")
    assert [c.message.room for c in livekit.calls("DeleteRoom")] == [created.message.name]
    assert livekit.room_names() == set() and await sessions(db) == [] and await event_types(db) == []

    # and when deleting it fails too, a FAILED session keeps the deletion pending until it succeeds
    units = 0
    livekit.error_on.add("DeleteRoom")
    with pytest.raises(ConnectionError):
        await _start(failing_store, lk, user, avatar.id)
    [failed] = await sessions(db)
    assert failed.status is AvatarSessionStatus.FAILED and failed.room_cleanup_pending
    assert livekit.room_names() == {failed.livekit_room_name}
    livekit.error_on.clear()
    await reconcile_once(run, lk, now=utcnow() + LATER)
    assert livekit.room_names() == set()


# ---------------------------------------------------------------- ending


async def test_ending_deletes_the_room_once_and_ending_again_changes_nothing(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    avatar = await make_avatar(db, tenant)
    started = await _start(run, lk, user, avatar.id)

    ended = await _end(run, lk, user, started.session.id)
    assert ended.status is AvatarSessionStatus.ENDED and ended.ended_at is not None
    assert not ended.room_cleanup_pending and livekit.room_names() == set()
    [delete] = livekit.calls("DeleteRoom")
    assert delete.message.room == started.session.livekit_room_name
    assert delete.claims["video"]["roomCreate"] is True

    again = await _end(run, lk, user, started.session.id)
    assert (again.status, again.ended_at, again.updated_at) == (ended.status, ended.ended_at, ended.updated_at)
    assert len(livekit.calls("DeleteRoom")) == 1
    assert await event_types(db) == ["avatar_session.started", "avatar_session.ended"]
    [data] = await event_data(db, "avatar_session.ended")
    assert data["reason"] == "user" and data["status"] == "ENDED"


async def test_a_room_already_gone_is_fine_when_ending(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    started = await _start(run, lk, user, (await make_avatar(db, tenant)).id)
    livekit.not_found_on_delete = True
    ended = await _end(run, lk, user, started.session.id)
    assert ended.status is AvatarSessionStatus.ENDED and not ended.room_cleanup_pending


async def test_a_failed_delete_is_retried_by_the_reconciliation_with_backoff(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    # given a session whose room LiveKit refuses to delete
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    started = await _start(run, lk, user, (await make_avatar(db, tenant)).id)
    room = started.session.livekit_room_name
    livekit.error_on.add("DeleteRoom")

    # when it is ended, then it is ENDED all the same, with the deletion recorded as pending
    ended = await _end(run, lk, user, started.session.id)
    assert ended.status is AvatarSessionStatus.ENDED
    assert ended.room_cleanup_pending and ended.room_cleanup_attempts == 1
    assert livekit.room_names() == {room}

    # and a pass before the backoff has passed does not retry yet
    await reconcile_once(run, lk)
    assert len(livekit.calls("DeleteRoom")) == 1

    # and a failing retry backs off further
    report = await reconcile_once(run, lk, now=utcnow() + timedelta(seconds=6))
    assert report.deletions_failed == 1 and (await session_row(db, started.session.id)).room_cleanup_attempts == 2

    # when LiveKit recovers, the next due pass deletes the room and clears the flag
    livekit.error_on.clear()
    report = await reconcile_once(run, lk, now=utcnow() + LATER)
    assert report.rooms_deleted == 1 and livekit.room_names() == set()
    assert not (await session_row(db, started.session.id)).room_cleanup_pending
    # and the session was ended (and announced) once
    assert await event_types(db) == ["avatar_session.started", "avatar_session.ended"]


async def test_only_the_owner_or_an_admin_ends_a_session(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    owner, other = await make_user(db, tenant), await make_user(db, tenant)
    stranger = await make_user(db, other_tenant)
    started = await _start(run, lk, owner, (await make_avatar(db, tenant)).id)

    assert await _code(_end(run, lk, other, started.session.id)) is ErrorCode.NOT_FOUND
    assert await _code(_end(run, lk, stranger, started.session.id, admin=True)) is ErrorCode.NOT_FOUND
    assert (await session_row(db, started.session.id)).status is AvatarSessionStatus.ACTIVE
    ended = await _end(run, lk, other, started.session.id, admin=True)
    assert ended.status is AvatarSessionStatus.ENDED


# ---------------------------------------------------------------- reconciliation


async def test_reconciliation_ends_active_sessions_whose_room_is_gone(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    # given two ACTIVE sessions, one of whose rooms LiveKit closed on its own
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    avatar = await make_avatar(db, tenant)
    kept = await _start(run, lk, user, avatar.id)
    gone = await _start(run, lk, user, avatar.id)
    livekit.close_room(gone.session.livekit_room_name)

    # when the reconciliation runs
    report = await reconcile_once(run, lk)

    # then it asked LiveKit for those rooms by name, with the roomList grant
    [listing] = livekit.calls("ListRooms")
    assert listing.claims["video"]["roomList"] is True
    assert set(listing.message.names) == {kept.session.livekit_room_name, gone.session.livekit_room_name}
    # and ended the one whose room is gone, announced once, and left the other
    assert report.sessions_ended == 1
    assert (await session_row(db, gone.session.id)).status is AvatarSessionStatus.ENDED
    assert (await session_row(db, kept.session.id)).status is AvatarSessionStatus.ACTIVE
    [data] = await event_data(db, "avatar_session.ended")
    assert data["sessionId"] == str(gone.session.id) and data["reason"] == "room_gone"

    # and a second pass changes nothing
    assert (await reconcile_once(run, lk)).sessions_ended == 0
    assert len(await event_data(db, "avatar_session.ended")) == 1


async def test_reconciliation_ends_nothing_when_livekit_cannot_list(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit
) -> None:
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    started = await _start(run, lk, user, (await make_avatar(db, tenant)).id)
    livekit.error_on.add("ListRooms")
    report = await reconcile_once(run, lk)
    assert report.listing_failed and report.sessions_ended == 0
    assert (await session_row(db, started.session.id)).status is AvatarSessionStatus.ACTIVE


# ---------------------------------------------------------------- authoring


async def test_avatar_fields_are_validated_all_at_once(actors: Actors, db: Any) -> None:
    tenant = await actors.tenant()
    async with db() as session:
        with pytest.raises(InvalidInput) as caught:
            await create_avatar(
                session, tenant_id=tenant.id, values=AvatarFields(name=" ", provider="Not A Slug", modes=[])
            )
    fields = sorted(p.field for p in caught.value.problems)
    assert fields == [("input", "modes"), ("input", "name"), ("input", "provider")]

    async with db() as session:
        avatar = await create_avatar(
            session, tenant_id=tenant.id, values=AvatarFields(name="Ada", provider="hedra", modes=["VIDEO", "VOICE"])
        )
        # modes are kept distinct, in a fixed order; an update changes only what it is given
        assert avatar.modes == ["VOICE", "VIDEO"] and avatar.status.value == "ACTIVE"
        updated = await update_avatar(
            session, tenant_id=tenant.id, avatar_id=avatar.id, values=AvatarFields(status="INACTIVE")
        )
        assert updated.status.value == "INACTIVE" and updated.name == "Ada"


async def test_the_demo_has_two_avatars_one_inactive_and_loads_them_once(db: Any) -> None:
    async with db() as session:
        first = await load_demo(session)
    assert len(first.avatars_created) == 2
    async with db() as session:
        second = await load_demo(session)
        statuses = (await session.execute(text("SELECT status::text FROM avatars ORDER BY status"))).scalars()
        assert sorted(statuses) == ["ACTIVE", "INACTIVE"]
    assert second.avatars_created == []


async def test_the_background_task_reconciles_until_stopped(
    actors: Actors, db: Any, livekit: FakeLiveKit, run: UnitRunner, lk: LiveKit, server: LiveServer
) -> None:
    # the live test server runs none (interval 0); a reconciler with a short interval does the work
    assert Reconciler.for_runtime(server.runtime) is None
    tenant = await actors.tenant()
    user = await make_user(db, tenant)
    started = await _start(run, lk, user, (await make_avatar(db, tenant)).id)
    livekit.close_room(started.session.livekit_room_name)

    reconciler = Reconciler(run, lk, interval=0.05)
    reconciler.start()
    try:
        for _ in range(100):
            if (await session_row(db, started.session.id)).status is AvatarSessionStatus.ENDED:
                break
            await asyncio.sleep(0.05)
    finally:
        await reconciler.stop()
    assert (await session_row(db, started.session.id)).end_reason == "room_gone"


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"LIVEKIT_TIMEOUT": "soon"}, "LIVEKIT_TIMEOUT"),
        ({"LIVEKIT_TIMEOUT": "0"}, "LIVEKIT_TIMEOUT"),
        ({"LIVEKIT_RECONCILE_INTERVAL": "-1"}, "LIVEKIT_RECONCILE_INTERVAL"),
        ({"LIVEKIT_URL": "ftp://x", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}, "LIVEKIT_URL"),
        ({"LIVEKIT_URL": "ws://x"}, "go together"),
    ],
)
def test_bad_livekit_settings_are_refused(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings({"JOURNEYS_JWT_SECRET": "x" * 40, **environ})


def test_livekit_settings_have_defaults_and_can_turn_reconciliation_off() -> None:
    settings = load_settings({"JOURNEYS_JWT_SECRET": "x" * 40, "LIVEKIT_RECONCILE_INTERVAL": "0"})
    assert settings.livekit_timeout == 10.0 and settings.livekit_reconcile_interval == 0.0
    assert LiveKit.from_settings(settings) is None
    assert service.client_url("https://lk.example") == "wss://lk.example"
    assert rooms.cleanup_backoff(1) < rooms.cleanup_backoff(3) <= rooms.CLEANUP_MAX_BACKOFF
    assert rooms.cleanup_backoff(50) == rooms.CLEANUP_MAX_BACKOFF


def test_the_livekit_sdk_is_loaded_only_once_livekit_is_used() -> None:
    # A server without LiveKit configured never loads livekit-api (nor aiohttp and protobuf
    # under it): 15 MiB of every worker's memory. The tests above use it for real.
    probe = (
        "import sys\n"
        "from app.config import load_settings\n"
        "from app.main import create_app\n"
        "create_app(load_settings({'JOURNEYS_ENV': 'test', 'JOURNEYS_DATA_DIR': '/nonexistent'}), 'postgresql+asyncpg://x@/y')\n"
        "print(sorted(m for m in ('livekit.api', 'aiohttp', 'google.protobuf') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    livekit = LiveKit(url="http://127.0.0.1:1", api_key="key", api_secret="s" * 32, timeout=1.0)
    token = livekit.participant_token(
        room="r", identity="i", name="n", metadata={}, ttl=timedelta(minutes=1), sources=[]
    )
    assert jwt.decode(token, "s" * 32, algorithms=["HS256"], options={"verify_aud": False})["video"]["room"] == "r"
