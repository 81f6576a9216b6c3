"""Helpers for the realtime tests: a real `redis-server` on a free loopback port, and a TCP
proxy that can make the connections through it go silent.

The suite needs the `redis-server` binary (scripts/test installs it from apt when it is
missing); a missing binary fails the test with a message saying so rather than skipping it.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

START_TIMEOUT = 10.0


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def terminate(process: asyncio.subprocess.Process, *, within: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited ``within`` seconds; waits for the exit."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), within)
    except TimeoutError:
        process.kill()
        await process.wait()


def redis_server_binary() -> str:
    """The `redis-server` executable, or a test failure naming how to install it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: the realtime tests need it "
            "(scripts/test installs it with `apt-get install redis-server` when it is missing)",
            pytrace=False,
        )
    return binary


class RedisServer:
    """One `redis-server` process on 127.0.0.1:<port>, with no persistence, in its own directory.

    ``stop()`` then ``start()`` restarts it on the same port, as a crashed or restarted Redis
    would come back.
    """

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the server and return once it answers PING."""
        assert self._process is None, "redis-server is already running"
        self._process = await asyncio.create_subprocess_exec(
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while not await self._answers_ping():
            if self._process.returncode is not None:
                assert self._process.stderr is not None
                error = (await self._process.stderr.read()).decode(errors="replace")
                self._process = None
                pytest.fail(f"redis-server exited at start (port {self.port}): {error}", pytrace=False)
            if asyncio.get_running_loop().time() > deadline:
                await self.stop()
                pytest.fail(f"redis-server did not answer PING on port {self.port} in {START_TIMEOUT} s")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop the server (SIGTERM, as a restart would) and wait for it to exit."""
        process, self._process = self._process, None
        if process is not None:
            await terminate(process, within=10)

    async def _answers_ping(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            reply = await asyncio.wait_for(reader.readline(), 1)
            return reply == b"+PONG\r\n"
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            await writer.wait_closed()


@asynccontextmanager
async def running_redis() -> AsyncIterator[RedisServer]:
    """A fresh `redis-server` for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="journeys-redis-") as directory:
        server = RedisServer(Path(directory))
        await server.start()
        try:
            yield server
        finally:
            await server.stop()


class StallingProxy:
    """A TCP proxy on 127.0.0.1 to a TCP port or a unix socket.

    ``stall()`` makes every connection opened so far go silent in both directions without
    closing it (bytes are read and dropped), as a dropped NAT mapping or a dead host looks to
    a client; connections opened afterwards work normally.
    """

    def __init__(self, *, port: int | None = None, unix_path: str | None = None) -> None:
        assert (port is None) != (unix_path is None), "give a target port or a unix socket path"
        self._target_port = port
        self._target_path = unix_path
        self._server: asyncio.Server | None = None
        self._stalled: list[asyncio.Event] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stall(self) -> None:
        for stalled in self._stalled:
            stalled.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._target_path is not None:
            upstream_reader, upstream_writer = await asyncio.open_unix_connection(self._target_path)
        else:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        stalled = asyncio.Event()
        self._stalled.append(stalled)
        pumps = [
            asyncio.create_task(self._pump(client_reader, upstream_writer, stalled)),
            asyncio.create_task(self._pump(upstream_reader, client_writer, stalled)),
        ]
        for pump in pumps:
            self._tasks.add(pump)
            pump.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stalled: asyncio.Event) -> None:
        try:
            while data := await reader.read(65536):
                if not stalled.is_set():
                    writer.write(data)
                    await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
