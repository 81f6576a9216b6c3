"""Avatars and avatar sessions through the HTTP API of the live server, with LiveKit played
by a local server speaking its RoomService: authoring and listing avatars, a user creating,
reading and ending a session, who may see a session, every error code the session
mutations give, LiveKit failing or timing out, the signed webhook (good, bad, duplicate),
and a server without LiveKit settings."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text

from app.config import Settings
from app.graphql.relay import local_id, to_global_id
from app.main import create_app
from app.tenancy.models import Tenant
from tests.avatars_support import event_types, make_avatar, sessions
from tests.conftest import Actors, GraphQLClient
from tests.livekit_server import FakeLiveKit
from tests.subscription_support import USER_EVENTS, graphql_socket

USER_ERRORS = "errors { code message field }"
AVATAR_FIELDS = "id name description provider status modes metadata"
SESSION_FIELDS = (
    "id tenantId userId avatarId avatar { id name } livekitRoomName livekitRoomSid mode status "
    "startedAt endedAt createdAt updatedAt metadata"
)
CREATE_AVATAR = f"""
mutation CreateAvatar($input: AvatarInput!) {{
  createAvatar(input: $input) {{ avatar {{ {AVATAR_FIELDS} }} {USER_ERRORS} }}
}}
"""
UPDATE_AVATAR = f"""
mutation UpdateAvatar($id: ID!, $input: AvatarInput!) {{
  updateAvatar(id: $id, input: $input) {{ avatar {{ {AVATAR_FIELDS} }} {USER_ERRORS} }}
}}
"""
AVATARS = """
query Avatars($first: Int!, $after: String) {
  avatars(first: $first, after: $after) { edges { node { id name status } } pageInfo { hasNextPage endCursor } }
}
"""
ADMIN_AVATARS = """
query AdminAvatars($status: AvatarStatus) {
  adminAvatars(status: $status) { edges { node { id name status } } }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { __typename id ... on Avatar { name } ... on AvatarSession { status } } }"
CREATE_SESSION = f"""
mutation CreateSession($input: CreateAvatarSessionInput!) {{
  createAvatarSession(input: $input) {{
    session {{ {SESSION_FIELDS} }} sessionId roomName token livekitUrl {USER_ERRORS}
  }}
}}
"""
SESSION = f"query Session($id: ID!) {{ avatarSession(id: $id) {{ {SESSION_FIELDS} }} }}"
END_SESSION = f"""
mutation EndSession($id: ID!) {{ endAvatarSession(id: $id) {{ session {{ {SESSION_FIELDS} }} {USER_ERRORS} }} }}
"""


@pytest.fixture
def livekit(livekit_server: FakeLiveKit) -> Iterator[FakeLiveKit]:
    livekit_server.reset()
    yield livekit_server
    livekit_server.reset()


def _avatar_input(**overrides: Any) -> dict[str, Any]:
    return {"name": "Ada", "provider": "tavus", "modes": ["VOICE", "VIDEO"], **overrides}


async def _avatar_id(db: Any, tenant: Tenant, **kwargs: Any) -> str:
    return to_global_id("Avatar", (await make_avatar(db, tenant, **kwargs)).id)


async def _create(client: GraphQLClient, avatar_id: str, mode: str = "VOICE", **extra: Any) -> dict[str, Any]:
    data = await client.data(CREATE_SESSION, {"input": {"avatarId": avatar_id, "mode": mode, **extra}})
    payload: dict[str, Any] = data["createAvatarSession"]
    return payload


def _codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


# ---------------------------------------------------------------- avatars


async def test_admins_author_avatars_and_users_list_the_active_ones(actors: Actors) -> None:
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)

    # a user may not author
    assert await user.error_codes(CREATE_AVATAR, {"input": _avatar_input()}) == ["FORBIDDEN"]

    # invalid fields come back one error each, on their field
    bad = (await admin.data(CREATE_AVATAR, {"input": {"name": "", "provider": "Tavus!", "modes": []}}))["createAvatar"]
    assert bad["avatar"] is None
    assert sorted(_codes(bad)) == [
        ("BAD_USER_INPUT", ["input", "modes"]),
        ("BAD_USER_INPUT", ["input", "name"]),
        ("BAD_USER_INPUT", ["input", "provider"]),
    ]

    # valid ones are created ACTIVE
    created = []
    for name in ("Ada", "Grace", "Linus"):
        payload = (
            await admin.data(CREATE_AVATAR, {"input": _avatar_input(name=name, metadata={"voice": name.lower()})})
        )["createAvatar"]
        assert payload["errors"] == []
        created.append(payload["avatar"])
    assert created[0]["status"] == "ACTIVE" and created[0]["modes"] == ["VOICE", "VIDEO"]
    assert created[0]["metadata"] == {"voice": "ada"}

    # an update changes only what it is given
    inactive = (
        await admin.data(UPDATE_AVATAR, {"id": created[1]["id"], "input": {"status": "INACTIVE", "modes": ["VIDEO"]}})
    )["updateAvatar"]["avatar"]
    assert (inactive["name"], inactive["status"], inactive["modes"]) == ("Grace", "INACTIVE", ["VIDEO"])
    unknown = (await admin.data(UPDATE_AVATAR, {"id": to_global_id("Avatar", tenant.id), "input": {}}))["updateAvatar"]
    assert _codes(unknown) == [("NOT_FOUND", ["id"])]

    # users page through the active ones only
    first = (await user.data(AVATARS, {"first": 1}))["avatars"]
    assert [e["node"]["name"] for e in first["edges"]] == ["Ada"] and first["pageInfo"]["hasNextPage"]
    rest = (await user.data(AVATARS, {"first": 10, "after": first["pageInfo"]["endCursor"]}))["avatars"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["Linus"] and not rest["pageInfo"]["hasNextPage"]

    # admins see every one, or one status
    assert await user.error_codes(ADMIN_AVATARS) == ["FORBIDDEN"]
    everything = (await admin.data(ADMIN_AVATARS))["adminAvatars"]["edges"]
    assert [e["node"]["name"] for e in everything] == ["Ada", "Grace", "Linus"]
    only = (await admin.data(ADMIN_AVATARS, {"status": "INACTIVE"}))["adminAvatars"]["edges"]
    assert [e["node"]["name"] for e in only] == ["Grace"]

    # and an inactive avatar is a node for admins only
    assert (await user.data(NODE, {"id": inactive["id"]}))["node"] is None
    assert (await admin.data(NODE, {"id": inactive["id"]}))["node"]["name"] == "Grace"
    assert (await user.data(NODE, {"id": created[0]["id"]}))["node"] == {
        "__typename": "Avatar",
        "id": created[0]["id"],
        "name": "Ada",
    }


# ---------------------------------------------------------------- sessions


async def test_a_user_creates_reads_and_ends_a_session(actors: Actors, db: Any, livekit: FakeLiveKit) -> None:
    # given a user and an avatar
    tenant = await actors.tenant()
    alice = actors.user(tenant, "alice")
    avatar_id = await _avatar_id(db, tenant)

    # when they create a session
    created = await _create(alice, avatar_id, "VIDEO", deviceId="ios-42", isAuthenticated=True)

    # then they get the session, the room and a token for it
    assert created["errors"] == []
    session = created["session"]
    assert created["sessionId"] == session["id"] and created["roomName"] == session["livekitRoomName"]
    assert created["livekitUrl"] == livekit.url.replace("http://", "ws://")
    assert session["status"] == "ACTIVE" and session["mode"] == "VIDEO" and session["endedAt"] is None
    assert session["avatarId"] == avatar_id and session["avatar"]["id"] == avatar_id
    assert session["tenantId"] == to_global_id("Tenant", tenant.id)
    assert session["metadata"] == {"deviceId": "ios-42", "isAuthenticated": True}
    [room] = livekit.rooms.values()
    assert (room.name, room.sid) == (session["livekitRoomName"], session["livekitRoomSid"])
    claims = jwt.decode(created["token"], livekit.api_secret, algorithms=["HS256"], issuer=livekit.api_key)
    assert claims["video"] == {
        "roomJoin": True,
        "room": room.name,
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "canPublishSources": ["microphone", "camera"],
    }
    assert claims["exp"] - claims["nbf"] <= 3600
    async with db() as s:
        user_id = (await s.execute(text("SELECT user_id FROM avatar_sessions"))).scalar_one()
    assert claims["sub"] == str(user_id) and session["userId"] == to_global_id("User", user_id)
    metadata = json.loads(room.metadata)
    assert metadata["tenantId"] == str(tenant.id)
    assert metadata["sessionId"] == str(local_id(session["id"], "AvatarSession"))

    # and can read it back
    assert (await alice.data(SESSION, {"id": session["id"]}))["avatarSession"] == session

    # when they end it, then it is ENDED and its room is gone
    ended = (await alice.data(END_SESSION, {"id": session["id"]}))["endAvatarSession"]
    assert ended["errors"] == [] and ended["session"]["status"] == "ENDED" and ended["session"]["endedAt"]
    assert livekit.room_names() == set()

    # and ending it again returns it unchanged, deleting nothing more
    again = (await alice.data(END_SESSION, {"id": session["id"]}))["endAvatarSession"]
    assert again == ended and len(livekit.calls("DeleteRoom")) == 1
    assert await event_types(db) == ["avatar_session.started", "avatar_session.ended"]


async def test_a_session_is_seen_by_its_user_and_the_tenant_s_admins_only(
    actors: Actors, db: Any, livekit: FakeLiveKit
) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    alice, bob = actors.user(tenant, "alice"), actors.user(tenant, "bob")
    session_id = (await _create(alice, await _avatar_id(db, tenant)))["session"]["id"]

    # another user of the tenant, and another tenant's admin, see nothing
    for stranger in (bob, actors.admin(other_tenant)):
        assert (await stranger.data(SESSION, {"id": session_id}))["avatarSession"] is None
        assert (await stranger.data(NODE, {"id": session_id}))["node"] is None
        refused = (await stranger.data(END_SESSION, {"id": session_id}))["endAvatarSession"]
        assert refused["session"] is None and _codes(refused) == [("NOT_FOUND", ["id"])]
    assert (await alice.data(SESSION, {"id": session_id}))["avatarSession"]["status"] == "ACTIVE"
    assert livekit.calls("DeleteRoom") == []

    # the tenant's admin sees it, and may end it
    admin = actors.admin(tenant)
    assert (await admin.data(NODE, {"id": session_id}))["node"] == {
        "__typename": "AvatarSession",
        "id": session_id,
        "status": "ACTIVE",
    }
    ended = (await admin.data(END_SESSION, {"id": session_id}))["endAvatarSession"]
    assert ended["session"]["status"] == "ENDED"

    # and an id that is not a session's is null or NOT_FOUND, never an error
    assert (await alice.data(SESSION, {"id": "nonsense"}))["avatarSession"] is None
    assert _codes((await alice.data(END_SESSION, {"id": "nonsense"}))["endAvatarSession"]) == [("NOT_FOUND", ["id"])]


async def test_unknown_inactive_and_unoffered_avatars(actors: Actors, db: Any, livekit: FakeLiveKit) -> None:
    tenant = await actors.tenant()
    alice = actors.user(tenant)
    inactive = await _avatar_id(db, tenant, status="INACTIVE")
    voice_only = await _avatar_id(db, tenant, modes=("VOICE",))
    foreign = await _avatar_id(db, await actors.tenant())

    cases = [
        (inactive, "VOICE", ("UNAVAILABLE", ["input", "avatarId"])),
        (voice_only, "VIDEO", ("UNAVAILABLE", ["input", "mode"])),
        (foreign, "VOICE", ("NOT_FOUND", ["input", "avatarId"])),
        (to_global_id("Avatar", tenant.id), "VOICE", ("NOT_FOUND", ["input", "avatarId"])),
        ("not-an-id", "VOICE", ("NOT_FOUND", ["input", "avatarId"])),
    ]
    for avatar_id, mode, expected in cases:
        payload = await _create(alice, avatar_id, mode)
        assert _codes(payload) == [expected], (avatar_id, payload)
        assert payload["session"] is None and payload["token"] is None and payload["sessionId"] is None
    assert livekit.requests == [] and await sessions(db) == []


@pytest.mark.parametrize("failure", ["error", "timeout"])
async def test_livekit_failing_or_timing_out_is_upstream_failed(
    actors: Actors, db: Any, livekit: FakeLiveKit, failure: str
) -> None:
    tenant = await actors.tenant()
    alice = actors.user(tenant)
    if failure == "error":
        livekit.error_on.add("CreateRoom")
    else:
        livekit.delay_on["CreateRoom"] = 1.5
    payload = await _create(alice, await _avatar_id(db, tenant))
    assert _codes(payload) == [("UPSTREAM_FAILED", None)]
    assert payload["session"] is None and payload["token"] is None
    assert [s.status.value for s in await sessions(db)] == ["FAILED"]
    assert await event_types(db) == []
    if failure == "timeout":  # let the stalled request finish before the next test
        livekit.delay_on.clear()
        await _wait_for(lambda: bool(livekit.room_names()))


async def _wait_for(condition: Any) -> None:
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met")


# ---------------------------------------------------------------- the webhook


async def test_a_signed_room_finished_webhook_ends_the_session_once(
    actors: Actors, db: Any, livekit: FakeLiveKit, client: httpx.AsyncClient
) -> None:
    tenant = await actors.tenant()
    alice = actors.user(tenant)
    session = (await _create(alice, await _avatar_id(db, tenant)))["session"]
    event = livekit.room_finished(session["livekitRoomName"], sid=session["livekitRoomSid"])
    body, headers = livekit.signed_webhook(event)

    # when LiveKit reports the room finished, then the session is ENDED
    response = await client.post("/webhooks/livekit", content=body, headers=headers)
    assert (response.status_code, response.json()) == (200, {"status": "ended"})
    ended = (await alice.data(SESSION, {"id": session["id"]}))["avatarSession"]
    assert ended["status"] == "ENDED" and ended["endedAt"]

    # and a redelivery of the same event is recognised and changes nothing
    response = await client.post("/webhooks/livekit", content=body, headers=headers)
    assert (response.status_code, response.json()) == (200, {"status": "duplicate"})
    # as does another event about the room, which finds it already ended
    body, headers = livekit.signed_webhook(livekit.room_finished(session["livekitRoomName"]))
    assert (await client.post("/webhooks/livekit", content=body, headers=headers)).json() == {"status": "ignored"}
    assert (await alice.data(SESSION, {"id": session["id"]}))["avatarSession"] == ended
    assert await event_types(db) == ["avatar_session.started", "avatar_session.ended"]
    # and the room was not deleted by us: LiveKit had closed it
    assert livekit.calls("DeleteRoom") == []


async def test_a_webhook_without_a_good_signature_is_401_and_changes_nothing(
    actors: Actors, db: Any, livekit: FakeLiveKit, client: httpx.AsyncClient
) -> None:
    tenant = await actors.tenant()
    alice = actors.user(tenant)
    session = (await _create(alice, await _avatar_id(db, tenant)))["session"]
    event = livekit.room_finished(session["livekitRoomName"])
    body, headers = livekit.signed_webhook(event)
    _, forged = livekit.signed_webhook(event, secret="not-the-secret-" + "x" * 30)
    _, other_body = livekit.signed_webhook(livekit.room_finished("avatar-elsewhere"))

    attempts = [
        {"Content-Type": "application/webhook+json"},  # unsigned
        forged,  # signed with another secret
        other_body,  # signed, but for another body
        {**headers, "Authorization": headers["Authorization"][:-4] + "AAAA"},  # signature altered
    ]
    for attempt in attempts:
        response = await client.post("/webhooks/livekit", content=body, headers=attempt)
        assert response.status_code == 401, attempt
    # and a correctly signed body that is not an event is a bad request
    response = await client.post("/webhooks/livekit", content="{not json", headers=livekit.webhook_headers("{not json"))
    assert response.status_code == 400

    assert (await alice.data(SESSION, {"id": session["id"]}))["avatarSession"]["status"] == "ACTIVE"
    async with db() as s:
        assert (await s.execute(text("SELECT count(*) FROM livekit_webhook_events"))).scalar_one() == 0
    assert await event_types(db) == ["avatar_session.started"]

    # while the genuine delivery still works afterwards
    response = await client.post("/webhooks/livekit", content=body, headers=headers)
    assert response.json() == {"status": "ended"}


# ---------------------------------------------------------------- no LiveKit


@pytest.fixture
async def unconfigured(migrated: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app without LiveKit settings on the test database, over ASGI."""
    plain = dataclasses.replace(settings, livekit_url=None, livekit_api_key=None, livekit_api_secret=None)
    app = create_app(plain, migrated)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plain") as http:
            yield http
    finally:
        await app.state.runtime.close()


async def test_without_livekit_sessions_are_not_configured(
    actors: Actors, db: Any, livekit: FakeLiveKit, unconfigured: httpx.AsyncClient
) -> None:
    tenant = await actors.tenant()
    alice = GraphQLClient(unconfigured, actors.token(tenant))
    avatar_id = await _avatar_id(db, tenant)

    payload = await _create(alice, avatar_id)
    assert _codes(payload) == [("NOT_CONFIGURED", None)] and payload["session"] is None
    # avatars themselves are still listed
    assert len((await alice.data(AVATARS, {"first": 5}))["avatars"]["edges"]) == 1
    body, headers = livekit.signed_webhook(livekit.room_finished("avatar-x"))
    assert (await unconfigured.post("/webhooks/livekit", content=body, headers=headers)).status_code == 503
    assert livekit.requests == [] and await sessions(db) == []


async def test_session_events_reach_the_user_s_subscription(
    actors: Actors, db: Any, livekit: FakeLiveKit, client: httpx.AsyncClient
) -> None:
    # given alice subscribed to her avatar session events (from the start of the store: no race)
    tenant = await actors.tenant()
    alice = actors.user(tenant, "alice")
    avatar_id = await _avatar_id(db, tenant)
    types = ["avatar_session.started", "avatar_session.ended"]
    async with graphql_socket(actors.http, actors.token(tenant, "alice")) as socket:
        await socket.subscribe("1", USER_EVENTS, {"after": "0", "types": types})
        # when a session starts (a mutation) and LiveKit reports its room finished (the webhook)
        session = (await _create(alice, avatar_id))["session"]
        body, headers = livekit.signed_webhook(livekit.room_finished(session["livekitRoomName"]))
        assert (await client.post("/webhooks/livekit", content=body, headers=headers)).status_code == 200
        # then both events are delivered, in order
        started, ended = await socket.events("1", 2)
    session_uuid = str(local_id(session["id"], "AvatarSession"))
    assert [started["type"], ended["type"]] == types
    assert started["data"]["sessionId"] == ended["data"]["sessionId"] == session_uuid
    assert ended["data"]["reason"] == "room_finished"
