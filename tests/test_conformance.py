"""GraphQL-over-HTTP conformance: graphql-http's server audit against the live endpoint.

The audit is a small Node script (tests/conformance/audit.mjs) with pinned npm
dependencies; install them once with ``npm ci --prefix tests/conformance``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.tenancy.credentials import Role
from tests.conftest import Actors, LiveServer

CONFORMANCE = Path(__file__).resolve().parent / "conformance"
AUDIT = CONFORMANCE / "audit.mjs"
INSTALL_HINT = "run `npm ci --prefix tests/conformance` (from the repository root) to install them"


def _results(stdout: str) -> list[dict[str, Any]]:
    results = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            results.append(json.loads(line))
    return results


async def test_graphql_over_http_audit_is_ok_on_every_item(server: LiveServer) -> None:
    node = shutil.which("node")
    assert node, f"Node.js is required for the GraphQL-over-HTTP audit: install node and npm, then {INSTALL_HINT}"
    for package in ("graphql-http", "graphql"):
        assert (CONFORMANCE / "node_modules" / package / "package.json").is_file(), (
            f"the audit's npm dependencies are missing ({package} is not in "
            f"tests/conformance/node_modules): {INSTALL_HINT}"
        )

    process = await asyncio.create_subprocess_exec(
        node,
        str(AUDIT),
        server.graphql_url,
        cwd=CONFORMANCE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("the GraphQL-over-HTTP audit did not finish within 120 s") from None
    stdout, stderr = out.decode(), err.decode()

    results = _results(stdout)
    # every item ok: no MUST violated (error), and no SHOULD (warn) or MAY (notice) left either
    failures = [r for r in results if r["status"] != "ok"]
    report = "\n".join(
        f"- {r['name']} [{r['id']}]: {r.get('reason')} (HTTP {r.get('responseStatus')}: "
        f"{r.get('responseBody', '')[:200]!r})"
        for r in failures
    )
    assert results, f"the audit printed no results (exit {process.returncode}):\n{stdout}\n{stderr}"
    assert not failures, f"{len(failures)} GraphQL-over-HTTP audit item(s) not ok:\n{report}\n{stderr}"
    assert process.returncode == 0, f"the audit exited {process.returncode}:\n{stdout}\n{stderr}"


CREATE_BY_GET = 'mutation { createJourney(input: {slug: "by-get", title: "By GET"}) { journey { id } } }'


async def test_get_never_runs_mutations(client: httpx.AsyncClient, actors: Actors) -> None:
    tenant = await actors.tenant()
    headers = {"Authorization": f"Bearer {actors.token(tenant, 'ada', role=Role.ADMIN)}"}
    response = await client.get("/graphql", params={"query": CREATE_BY_GET}, headers=headers)
    assert response.status_code == 405, response.text
    listed = await actors.admin(tenant).data("{ adminJourneys { edges { node { slug } } } }")
    assert listed["adminJourneys"]["edges"] == []


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/graphql"],
)
async def test_post_requires_json(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = json.dumps({"query": "mutation { __typename }"})
    response = await client.post("/graphql", content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert "Mutation" not in response.text


GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.mark.parametrize(
    ("query", "variables", "status", "has_data"),
    [
        ("{ __typename }", None, 200, True),
        ("{ viewer { id }", None, 400, False),  # does not parse
        ("{ nosuchfield }", None, 400, False),  # does not validate
        ("query Q($n: Int!) { journeys(first: $n) { edges { cursor } } }", {"n": "x"}, 400, False),  # coercion
        ("{ viewer { id } }", None, 200, True),  # an execution error (no credential): data stays, null
    ],
)
async def test_graphql_response_json_uses_the_spec_s_status_codes(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, status: int, has_data: bool
) -> None:
    headers = {"accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert ("data" in response.json()) is has_data, response.text
    # and application/json stays the default, answering 200 with data null as before
    plain = await client.post("/graphql", json={"query": query, "variables": variables})
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.status_code == 200 and "data" in plain.json()
