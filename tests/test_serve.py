"""`journeys serve` as a real process: a graceful shutdown (SIGTERM) closes open websockets with
1001 Going Away (SPEC §12), in one process and with worker processes, and exits cleanly; its
logs are structured, each record naming its request and operation."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.conftest import Actors
from tests.process_support import process_directory, process_environment, server_process, spawn
from tests.subscription_support import USER_EVENTS, close_code, graphql_socket

SERVE = ("-m", "app.cli", "serve", "--port", "{port}")


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_graceful_shutdown_closes_websockets_with_1001(
    actors: Actors, migrated: str, settings: Settings, workers: int
) -> None:
    tenant = await actors.tenant()
    environment = process_environment(migrated, settings, JOURNEYS_LOG_LEVEL="INFO")
    directory = process_directory(settings, "serve-")
    async with server_process((*SERVE, "--workers", str(workers)), environment, directory, "serve") as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            sockets = []
            # Two connections (with two workers they may land on either process), one subscribed.
            async with (
                graphql_socket(http, actors.token(tenant)) as first,
                graphql_socket(http, actors.token(tenant, "bob")) as second,
            ):
                await first.subscribe("1", USER_EVENTS)
                assert await first.quiet("1", 0.3) == []
                sockets = [first, second]
                server.process.send_signal(signal.SIGTERM)
                codes = [await close_code(socket.ws) for socket in sockets]
        assert codes == [1001, 1001]
        # one process leaves through SystemExit (143 = 128 + SIGTERM); the supervisor of workers exits 0.
        assert await asyncio.wait_for(server.process.wait(), 20) == (143 if workers == 1 else 0)
    log = server.log.read_text(errors="replace")
    assert log.count("Application shutdown complete") == workers and "Traceback" not in log


async def test_logs_are_json_lines_naming_the_request_and_the_operation(
    actors: Actors, migrated: str, settings: Settings
) -> None:
    tenant = await actors.tenant()
    environment = process_environment(migrated, settings, JOURNEYS_LOG_LEVEL="INFO", JOURNEYS_LOG_FORMAT="json")
    directory = process_directory(settings, "logs-")
    async with server_process(SERVE, environment, directory, "serve") as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            for request_id, token, query in [
                ("trace-titles", actors.token(tenant), "query Titles { journeys { edges { node { title } } } }"),
                ("trace-refused", "nope", "query Who { viewer { id } }"),
                ("trace-anonymous", actors.token(tenant), "{ viewer { externalId } }"),
            ]:
                response = await http.post(
                    "/graphql",
                    json={"query": query},
                    headers={"authorization": f"Bearer {token}", "x-request-id": request_id},
                )
                assert response.headers["x-request-id"] == request_id
        server.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.process.wait(), 20)
    lines = [line for line in server.log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message", "request_id", "operation"} <= set(r) for r in records)
    access = {r["request_id"]: r for r in records if r["logger"] == "app.http"}
    assert access["trace-titles"]["operation"] == "Titles"
    assert access["trace-titles"]["message"].startswith("POST /graphql 200 ")
    assert access["trace-refused"]["operation"] == "Who"
    assert access["trace-anonymous"]["operation"] == "anonymous"
    # records outside any request (startup, shutdown) say so
    startup = [r for r in records if r["message"] == "Application startup complete."]
    assert startup and startup[0]["request_id"] == "-" and startup[0]["logger"] == "uvicorn.error"


async def test_sigterm_also_stops_the_embedded_postgresql_it_started(settings: Settings) -> None:
    directory = process_directory(settings, "embedded-")
    environment = process_environment("unused", settings, JOURNEYS_DATA_DIR=str(directory / "data"))
    del environment["DATABASE_URL"]
    async with server_process(SERVE, environment, directory, "serve") as server:
        pid_file = directory / "data" / "pgdata" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        assert _running(postmaster)
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.process.wait(), 30) == 143
    assert not pid_file.exists()
    for _ in range(50):
        if not _running(postmaster):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the embedded PostgreSQL (pid {postmaster}) outlived `journeys serve`")


def _running(pid: int) -> bool:
    """Whether a process runs (a zombie, exited but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


async def test_the_address_is_announced_only_once_it_is_bound(
    actors: Actors, migrated: str, settings: Settings
) -> None:
    environment = process_environment(migrated, settings, JOURNEYS_LOG_LEVEL="INFO")
    directory = process_directory(settings, "bind-")
    async with server_process(SERVE, environment, directory, "serve") as server:
        assert f"Journeys on http://127.0.0.1:{server.port}/graphql" in server.output()
        # A second server on the same port fails to bind: one error line, no address announced.
        log = directory / "taken.log"
        taken = await spawn(SERVE, server.port, environment, directory, log)
        status = await asyncio.wait_for(taken.wait(), 60)
    output = log.read_text(errors="replace")
    assert status != 0
    assert "address already in use" in output.lower()
    assert "Journeys on" not in output and "Traceback" not in output
