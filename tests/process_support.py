"""The app served by a separate operating-system process, for tests that need several servers
on one database or a real process to shut down."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from app.config import Settings
from tests.conftest import TEST_SECRET
from tests.realtime_support import free_port, terminate

START_TIMEOUT = 30.0


class ServerProcess:
    """One server process listening on a loopback port."""

    def __init__(self, port: int, process: asyncio.subprocess.Process, log: Path) -> None:
        self.port = port
        self.process = process
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def process_environment(migrated: str, settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a server process on the test database, with no Ably or LiveKit."""
    environment = {
        **os.environ,
        "DATABASE_URL": migrated,
        "JOURNEYS_ENV": "test",
        "JOURNEYS_JWT_SECRET": TEST_SECRET,
        "JOURNEYS_DATA_DIR": str(settings.data_dir),
        "JOURNEYS_LOG_LEVEL": "WARNING",
        **overrides,
    }
    for name in ("ABLY_API_KEY", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        environment.pop(name, None)
    return environment


def process_directory(settings: Settings, prefix: str) -> Path:
    """A fresh working directory for server processes (no .env from the working tree)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=settings.data_dir))


@asynccontextmanager
async def server_process(
    arguments: Sequence[str], environment: dict[str, str], directory: Path, name: str
) -> AsyncIterator[ServerProcess]:
    """Run `python <arguments...>` where `{port}` is replaced by a free port, until it is ready
    (`/readyz` answers 200); stopped with SIGTERM (then SIGKILL) on exit."""
    port = free_port()
    log = directory / f"{name}.log"
    process = await spawn(arguments, port, environment, directory, log)
    server = ServerProcess(port, process, log)
    try:
        await _wait_until_ready(server)
        yield server
    finally:
        await terminate(process, within=15)


async def spawn(
    arguments: Sequence[str], port: int, environment: dict[str, str], directory: Path, log: Path
) -> asyncio.subprocess.Process:
    """Start `python <arguments...>` with `{port}` replaced by ``port``, its output in ``log``."""
    with log.open("wb") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *(argument.replace("{port}", str(port)) for argument in arguments),
            cwd=directory,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )


async def _wait_until_ready(server: ServerProcess) -> None:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    async with httpx.AsyncClient(base_url=server.url, timeout=2) as http:
        while True:
            if server.process.returncode is not None:
                raise AssertionError(f"server process exited with {server.process.returncode}:\n{server.output()}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"server process not ready within {START_TIMEOUT} s:\n{server.output()}")
            await asyncio.sleep(0.1)
