"""Automatic persisted queries (Apollo's APQ) and JOURNEYS_PERSISTED_ONLY (SPEC §18)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings, load_settings
from app.main import create_app
from tests.conftest import TEST_SECRET, Actors, LiveServer

CONFORMANCE = Path(__file__).resolve().parent / "conformance"


def _hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _persisted(key: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": key}}


async def test_apollo_client_s_persisted_queries_link_registers_then_sends_only_the_hash(
    actors: Actors, server: LiveServer
) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required: install node and npm, then run `npm ci --prefix tests/conformance`"
    tenant = await actors.tenant()
    name = f"Persisted{uuid.uuid4().hex[:8]}"  # a query this server has not seen
    process = await asyncio.create_subprocess_exec(
        node,
        "persisted.mjs",
        server.graphql_url,
        actors.token(tenant, "alice"),
        name,
        cwd=CONFORMANCE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, (out, err)
    report = json.loads(out.decode().strip().splitlines()[-1])
    # then every run answered
    assert [r["viewer"]["externalId"] for r in report["results"]] == ["alice"] * 3
    # the first request sent only the hash, was told PersistedQueryNotFound, and the retry sent
    # the query with it; later runs sent only the hash
    requests = report["requests"]
    assert [r["hasQuery"] for r in requests] == [False, True, False, False], requests
    assert len({r["hash"] for r in requests}) == 1 and requests[0]["hash"]


async def test_apq_rules(client: httpx.AsyncClient, actors: Actors) -> None:
    tenant = await actors.tenant()
    headers = {"Authorization": f"Bearer {actors.token(tenant, 'bob')}"}
    query = f"query Q{uuid.uuid4().hex[:8]} {{ viewer {{ externalId }} }}"
    key = _hash(query)
    # an unknown hash: PersistedQueryNotFound, with its code
    body = (await client.post("/graphql", json={"extensions": _persisted(key)}, headers=headers)).json()
    assert body["errors"][0]["message"] == "PersistedQueryNotFound"
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # a query whose hash does not match: BAD_USER_INPUT, nothing registered
    wrong = (
        await client.post("/graphql", json={"query": query, "extensions": _persisted("0" * 64)}, headers=headers)
    ).json()
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # the query with its hash registers it; the hash alone then runs it (over GET too)
    assert (
        await client.post("/graphql", json={"query": query, "extensions": _persisted(key)}, headers=headers)
    ).json()["data"]["viewer"] == {"externalId": "bob"}
    again = await client.post("/graphql", json={"extensions": _persisted(key)}, headers=headers)
    assert again.json()["data"]["viewer"] == {"externalId": "bob"}
    by_get = await client.get(
        "/graphql",
        params={"extensions": json.dumps(_persisted(key))},
        headers={**headers, "accept": "application/json"},
    )
    assert by_get.json()["data"]["viewer"] == {"externalId": "bob"}
    # a bad persistedQuery shape
    bad = (
        await client.post("/graphql", json={"extensions": {"persistedQuery": {"version": 2}}}, headers=headers)
    ).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.fixture
def manifest(tmp_path: Path) -> tuple[Path, str]:
    query = "query Allowed { viewer { externalId } }"
    path = tmp_path / "persisted.json"
    path.write_text(json.dumps({"operations": [{"id": _hash(query), "body": query, "name": "Allowed"}]}))
    return path, query


async def test_persisted_only_runs_only_the_manifest(
    migrated: str, settings: Settings, actors: Actors, manifest: tuple[Path, str]
) -> None:
    path, allowed = manifest
    only = load_settings(
        {
            "JOURNEYS_ENV": "test",
            "JOURNEYS_JWT_SECRET": TEST_SECRET,
            "JOURNEYS_DATA_DIR": str(settings.data_dir),
            "JOURNEYS_PERSISTED_ONLY": "1",
            "JOURNEYS_PERSISTED_QUERIES": str(path),
        }
    )
    tenant = await actors.tenant()
    headers = {"Authorization": f"Bearer {actors.token(tenant, 'carol')}"}
    app = create_app(only, migrated)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            # the manifest's query runs, by hash or by its text
            by_hash = await http.post("/graphql", json={"extensions": _persisted(_hash(allowed))}, headers=headers)
            assert by_hash.json()["data"]["viewer"] == {"externalId": "carol"}
            by_text = await http.post("/graphql", json={"query": allowed}, headers=headers)
            assert by_text.json()["data"]["viewer"] == {"externalId": "carol"}
            # any other document is refused, and cannot be registered
            other = "{ viewer { id } }"
            for payload in ({"query": other}, {"query": other, "extensions": _persisted(_hash(other))}):
                refused = (await http.post("/graphql", json=payload, headers=headers)).json()
                assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND", refused
            refused = (
                await http.post("/graphql", json={"extensions": _persisted(_hash(other))}, headers=headers)
            ).json()
            assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    finally:
        await app.state.runtime.close()
