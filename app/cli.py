"""The `journeys` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging.config
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from app.config import ConfigError, Settings, get_settings
from app.errors import DomainError
from app.logs import logging_config

T = TypeVar("T")
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def _database_url(settings: Settings) -> str:
    from app.db import ensure_database, resolve_database_url

    url = resolve_database_url(settings)
    asyncio.run(ensure_database(url))
    return url


def _migrate(settings: Settings) -> str:
    from app.migrate import upgrade_to_head

    url = _database_url(settings)
    upgrade_to_head(url)
    return url


def _with_session(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    from app.db import create_engine, create_session_factory, transaction

    async def run() -> T:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with transaction(create_session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from app.serving import SERVER_OPTIONS

    url = _migrate(settings)
    if args.demo:
        from app.demo import load_demo

        _with_session(url, load_demo)
    os.environ["DATABASE_URL"] = url  # worker processes must reach the same database
    # uvicorn shuts down gracefully on SIGTERM and then raises it again: leave through Python
    # then (exit status 143), so exit handlers run and stop the embedded PostgreSQL we started.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with contextlib.ExitStack() as stack:
        if args.workers > 1:
            from app.metrics import multiprocess_directory

            # Each worker keeps its metrics in a file there (a fresh directory unless one is given), and
            # any worker's /metrics adds them all up (app/metrics.py); prometheus_client reads the
            # variable as each worker imports it, so it is set before uvicorn starts them.
            directory = stack.enter_context(multiprocess_directory(settings.metrics_multiproc_dir))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        config = uvicorn.Config(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=logging_config(settings),
            access_log=False,  # app.http logs each request with its id and operation
            log_level=settings.log_level.lower(),
            **SERVER_OPTIONS,
        )
        # What uvicorn.run does, with the socket bound here first: the address is announced only once
        # it is ours (a port in use ends the command with uvicorn's one-line error and status 3).
        sock = config.bind_socket()
        logging.getLogger("app.cli").info("Journeys on http://%s:%s/graphql", args.host, sock.getsockname()[1])
        if args.workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[sock]).run()
        else:
            server = uvicorn.Server(config)
            server.run(sockets=[sock])
            if not server.started:
                raise SystemExit(3)


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> None:
    _migrate(settings)
    print("database is at the newest migration")


def cmd_demo(_args: argparse.Namespace, settings: Settings) -> None:
    from app.demo import load_demo

    url = _migrate(settings)
    summary = _with_session(url, load_demo)
    print(summary)


def _require_tenant(settings: Settings, slug: str) -> None:
    """ConfigError (exit 2) unless the tenant exists: a token for no tenant authenticates nobody."""
    from app.tenancy.service import get_tenant_by_slug

    async def work(session: Any) -> bool:
        return await get_tenant_by_slug(session, slug=slug) is not None

    alembic = logging.getLogger("alembic")
    level = alembic.level
    alembic.setLevel(logging.WARNING)  # the command prints the token and nothing else
    try:
        found = _with_session(_migrate(settings), work)
    finally:
        alembic.setLevel(level)
    if not found:
        raise ConfigError(f"no tenant {slug!r}")


def cmd_token(args: argparse.Namespace, settings: Settings) -> None:
    from app.tenancy.credentials import Role, mint_user_token, valid_timezone

    if args.tz and not valid_timezone(args.tz):
        raise ConfigError(f"--tz {args.tz!r} is not a known IANA timezone")
    if args.ttl <= 0:
        raise ConfigError("--ttl must be positive")
    _require_tenant(settings, args.tenant)
    print(
        mint_user_token(
            settings,
            tenant_slug=args.tenant,
            subject=args.user,
            role=Role(args.role),
            ttl_seconds=args.ttl,
            timezone=args.tz,
        )
    )


def cmd_tenant_create(args: argparse.Namespace, settings: Settings) -> None:
    from app.tenancy.service import create_api_key, create_tenant

    url = _migrate(settings)

    async def work(session: Any) -> str:
        tenant = await create_tenant(session, slug=args.slug, name=args.name, timezone=args.timezone)
        _key, secret = await create_api_key(session, tenant_id=tenant.id, name="initial")
        return secret

    secret = _with_session(url, work)
    print(f"tenant {args.slug} created; its first API key (shown once):\n{secret}")


def cmd_apikey_create(args: argparse.Namespace, settings: Settings) -> None:
    from app.tenancy.service import create_api_key, get_tenant_by_slug

    url = _migrate(settings)

    async def work(session: Any) -> str:
        tenant = await get_tenant_by_slug(session, slug=args.tenant)
        if tenant is None:
            raise ConfigError(f"no tenant {args.tenant!r}")
        _key, secret = await create_api_key(session, tenant_id=tenant.id, name=args.name)
        return secret

    print(_with_session(url, work))


def cmd_export_schema(args: argparse.Namespace, _settings: Settings) -> None:
    from app.graphql.schema import schema

    target = Path(args.output) if args.output else SCHEMA_FILE
    target.write_text(schema.as_str() + "\n")
    print(f"wrote {target}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="journeys", description="Journeys GraphQL service")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve /graphql")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="load the demo tenant first")
    serve.set_defaults(handler=cmd_serve)

    sub.add_parser("migrate", help="upgrade the database to the newest migration").set_defaults(handler=cmd_migrate)
    sub.add_parser("demo", help="load the demo tenant (idempotent)").set_defaults(handler=cmd_demo)

    token = sub.add_parser("token", help="print a signed user JWT")
    token.add_argument("--tenant", required=True)
    token.add_argument("--user", required=True)
    token.add_argument("--role", choices=["user", "admin"], default="user")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument("--tz", default=None, help="IANA timezone claim")
    token.set_defaults(handler=cmd_token)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(dest="tenant_command", required=True)
    create = tenant.add_parser("create", help="create a tenant and print its first API key")
    create.add_argument("slug")
    create.add_argument("--name", required=True)
    create.add_argument("--timezone", default="UTC")
    create.set_defaults(handler=cmd_tenant_create)

    apikey = sub.add_parser("apikey", help="manage API keys").add_subparsers(dest="apikey_command", required=True)
    key_create = apikey.add_parser("create", help="create an API key and print it once")
    key_create.add_argument("--tenant", required=True)
    key_create.add_argument("--name", required=True)
    key_create.set_defaults(handler=cmd_apikey_create)

    export = sub.add_parser("export-schema", help="write schema.graphql")
    export.add_argument("--output", default=None)
    export.set_defaults(handler=cmd_export_schema)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
        logging.config.dictConfig(logging_config(settings))
        args.handler(args, settings)
    except ConfigError as exc:
        print(f"journeys: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except DomainError as exc:
        print(f"journeys: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        print(f"journeys: cannot reach the database: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
