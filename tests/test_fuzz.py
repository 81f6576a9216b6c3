"""Property-based fuzzing of the running server (SPEC §13): operations generated from the
schema by hypothesis-graphql, as a user, an admin and anonymously, with and without NUL and
lone surrogate characters — none may answer HTTP 5xx or INTERNAL_SERVER_ERROR, and every
error entry carries a code from the list.

The server is a real `journeys serve` process on the test database; hypothesis runs in a
worker thread with a blocking client (derandomized, so CI sees the same operations each run).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import hypothesis_graphql
from graphql import StringValueNode, build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import Settings
from app.tenancy.credentials import Role, mint_user_token
from tests.catalog_support import published_journey
from tests.conftest import Actors
from tests.process_support import process_directory, process_environment, server_process
from tests.test_hardening import CODES

SCHEMA = build_schema(Path(__file__).resolve().parent.parent.joinpath("schema.graphql").read_text())
# Operations per strategy; together well over 1,000 per run.
RUNS = {"user queries": 350, "admin mutations": 350, "anonymous": 150, "nul and surrogates": 250}


def _scalars(allow_odd: bool) -> dict[str, st.SearchStrategy[Any]]:
    text = st.text(max_size=20) if allow_odd else st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
    return {
        "JSON": st.just(StringValueNode(value="{}")),  # printed as a string literal: the scalar refuses it
        "DateTime": st.sampled_from(["2026-01-01T00:00:00Z", "not a time", "9999-12-31T23:59:59Z"]).map(
            lambda v: StringValueNode(value=v)
        ),
        "Date": st.sampled_from(["2026-01-01", "2026-13-40", ""]).map(lambda v: StringValueNode(value=v)),
        "EpochMillis": text.map(lambda v: StringValueNode(value=v)),
    }


def _strategy(kind: str) -> st.SearchStrategy[str]:
    odd = kind == "nul and surrogates"
    options: dict[str, Any] = {
        "custom_scalars": _scalars(odd),
        "allow_x00": odd,
        "codec": None if odd else "utf-8",
    }
    if kind == "admin mutations":
        return hypothesis_graphql.mutations(SCHEMA, **options)
    if odd:
        return st.one_of(hypothesis_graphql.queries(SCHEMA, **options), hypothesis_graphql.mutations(SCHEMA, **options))
    return hypothesis_graphql.queries(SCHEMA, **options)


def _check(response: httpx.Response, document: str) -> None:
    assert response.status_code < 500, (response.status_code, response.text, document)
    body = response.json()
    for error in body.get("errors") or ():
        code = (error.get("extensions") or {}).get("code")
        assert code in CODES, (body, document)
        assert code != "INTERNAL_SERVER_ERROR", (body, document)


def _fuzz(url: str, kind: str, credential: str | None) -> None:
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:

        @settings(
            max_examples=RUNS[kind],
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(document=_strategy(kind))
        def run(document: str) -> None:
            # the document goes as JSON; lone surrogates travel as \\u escapes, as a client's would
            body = json.dumps({"query": document}, ensure_ascii=True)
            _check(http.post("/graphql", content=body, headers={"content-type": "application/json"}), document)

        run()


async def test_generated_operations_never_fail_inside_the_server(
    actors: Actors, settings: Settings, migrated: str
) -> None:
    tenant = await actors.tenant()
    await published_journey(actors.admin(tenant), events=2)
    tokens = {
        "user queries": mint_user_token(settings, tenant_slug=tenant.slug, subject="fuzz"),
        "admin mutations": mint_user_token(settings, tenant_slug=tenant.slug, subject="boss", role=Role.ADMIN),
        "anonymous": None,
        "nul and surrogates": mint_user_token(settings, tenant_slug=tenant.slug, subject="odd", role=Role.ADMIN),
    }
    environment = process_environment(migrated, settings)
    directory = process_directory(settings, "fuzz-")
    async with server_process(["-m", "app.cli", "serve", "--port", "{port}"], environment, directory, "fuzz") as server:
        for kind, credential in tokens.items():
            await asyncio.to_thread(_fuzz, server.url, kind, credential)
        # and the server logged no traceback for any of it
        log = server.log.read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]
