"""Configuration from the environment, and the `journeys` command run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from app.config import ConfigError, load_settings
from app.graphql.schema import schema
from app.tenancy.credentials import Role, Unauthenticated, read_user_token

GOOD_SECRET = "a-production-secret-" + "s" * 40
JOURNEYS = Path(sys.executable).with_name("journeys")


def _production(**extra: str) -> dict[str, str]:
    return {"JOURNEYS_ENV": "production", "JOURNEYS_JWT_SECRET": GOOD_SECRET, **extra}


# ---------------------------------------------------------------- load_settings


@pytest.mark.parametrize("secret", [None, "", "changeme", "secret", "short-but-not-placeholder"])
def test_production_refuses_a_missing_placeholder_or_short_secret(tmp_path: Path, secret: str | None) -> None:
    environ = {"JOURNEYS_ENV": "production", "JOURNEYS_DATA_DIR": str(tmp_path)}
    if secret is not None:
        environ["JOURNEYS_JWT_SECRET"] = secret
    with pytest.raises(ConfigError, match="JOURNEYS_JWT_SECRET"):
        load_settings(environ)
    # and it never falls back to a generated secret
    assert not (tmp_path / "jwt_secret").exists()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://x/y",
        "not a url",
        "sqlite:///journeys.db",
        "postgresql+asyncpg://db.example",  # names no database
        "postgresql+asyncpg://user@db.example:port/journeys",
        "postgresql+asyncpg://user@db.example:99999/journeys",
        "postgresql+asyncpg://user@[::1/journeys",
    ],
)
def test_a_database_url_that_cannot_work_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(_production(DATABASE_URL=url))


def test_plain_postgresql_urls_are_used_with_asyncpg() -> None:
    settings = load_settings(_production(DATABASE_URL="postgresql://u:p@db.example:5433/journeys"))
    assert settings.database_url == "postgresql+asyncpg://u:p@db.example:5433/journeys"


def test_production_turns_graphiql_and_introspection_off_unless_enabled() -> None:
    # given production with no say about GraphiQL, then both are off
    settings = load_settings(_production())
    assert settings.production
    assert (settings.graphiql, settings.introspection) == (False, False)
    # given production with JOURNEYS_GRAPHIQL=1, then both are on
    enabled = load_settings(_production(JOURNEYS_GRAPHIQL="1"))
    assert (enabled.graphiql, enabled.introspection) == (True, True)
    # given a flag that is not a boolean, then it is refused rather than guessed
    with pytest.raises(ConfigError):
        load_settings(_production(JOURNEYS_GRAPHIQL="maybe"))


def test_development_serves_graphiql_and_introspection(tmp_path: Path) -> None:
    settings = load_settings({"JOURNEYS_DATA_DIR": str(tmp_path)})
    assert settings.env == "development"
    assert (settings.graphiql, settings.introspection) == (True, True)
    disabled = load_settings({"JOURNEYS_DATA_DIR": str(tmp_path), "JOURNEYS_GRAPHIQL": "false"})
    assert (disabled.graphiql, disabled.introspection) == (False, False)


def test_development_generates_a_secret_once_and_keeps_it_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # when development settings load without a secret
    first = load_settings({"JOURNEYS_DATA_DIR": str(data_dir)})
    # then a strong random secret is generated and kept, readable only by its owner
    kept = data_dir / "jwt_secret"
    assert kept.read_text().strip() == first.jwt_secret
    assert len(first.jwt_secret) >= 32
    assert kept.stat().st_mode & 0o777 == 0o600
    # when they load again, then the same secret comes back (tokens survive restarts)
    assert load_settings({"JOURNEYS_DATA_DIR": str(data_dir)}).jwt_secret == first.jwt_secret
    # and another data dir has a secret of its own
    assert load_settings({"JOURNEYS_DATA_DIR": str(tmp_path / "other")}).jwt_secret != first.jwt_secret


def test_an_explicit_development_secret_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = load_settings({"JOURNEYS_DATA_DIR": str(tmp_path), "JOURNEYS_JWT_SECRET": GOOD_SECRET})
    assert settings.jwt_secret == GOOD_SECRET
    assert not (tmp_path / "jwt_secret").exists()


def test_unknown_environment_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="JOURNEYS_ENV"):
        load_settings({"JOURNEYS_ENV": "prod", "JOURNEYS_JWT_SECRET": GOOD_SECRET})


def test_logs_are_json_in_production_and_text_elsewhere_unless_chosen() -> None:
    production = {"JOURNEYS_ENV": "production", "JOURNEYS_JWT_SECRET": GOOD_SECRET}
    assert load_settings(production).log_format == "json"
    assert load_settings({**production, "JOURNEYS_LOG_FORMAT": "TEXT"}).log_format == "text"
    assert load_settings({"JOURNEYS_JWT_SECRET": GOOD_SECRET}).log_format == "text"
    assert load_settings({"JOURNEYS_JWT_SECRET": GOOD_SECRET, "JOURNEYS_LOG_FORMAT": "json"}).log_format == "json"
    assert load_settings({"JOURNEYS_JWT_SECRET": GOOD_SECRET, "JOURNEYS_LOG_LEVEL": " debug"}).log_level == "DEBUG"


@pytest.mark.parametrize(("variable", "value"), [("JOURNEYS_LOG_FORMAT", "xml"), ("JOURNEYS_LOG_LEVEL", "chatty")])
def test_unknown_log_formats_and_levels_are_refused(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({"JOURNEYS_JWT_SECRET": GOOD_SECRET, variable: value})


# ---------------------------------------------------------------- the command


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`journeys ARGS` in an empty directory with only the given environment (no `.env`)."""
    assert JOURNEYS.exists(), f"the console script is not installed next to {sys.executable}"
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "JOURNEYS_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    return subprocess.run(
        [str(JOURNEYS), *args], cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def with_demo_tenant(migrated: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a CLI on the test database, where the tenant `demo` exists."""
    env = {"DATABASE_URL": migrated, "JOURNEYS_JWT_SECRET": GOOD_SECRET}
    created = _run(tmp_path, "tenant", "create", "demo", "--name", "Demo", **env)
    assert created.returncode == 0 or "taken" in created.stderr or "exists" in created.stderr, created.stderr
    return env


def test_token_prints_a_jwt_the_service_accepts(tmp_path: Path, with_demo_tenant: dict[str, str]) -> None:
    # when a token is asked for with every option
    before = int(time.time())
    result = _run(
        tmp_path,
        *("token", "--tenant", "demo", "--user", "alice", "--ttl", "60", "--tz", "Europe/Paris"),
        **with_demo_tenant,
    )
    # then it prints exactly one line: the token
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    token = lines[0].strip()
    # and the service, holding the same secret, reads those claims from it
    settings = load_settings({"JOURNEYS_JWT_SECRET": GOOD_SECRET, "JOURNEYS_DATA_DIR": str(tmp_path)})
    claims = read_user_token(settings, token)
    assert (claims.subject, claims.tenant_slug, claims.role, claims.timezone) == (
        "alice",
        "demo",
        Role.USER,
        "Europe/Paris",
    )
    expires = jwt.decode(token, GOOD_SECRET, algorithms=["HS256"])["exp"]
    assert before + 60 <= expires <= int(time.time()) + 60
    # and a service with another secret does not
    other = load_settings({"JOURNEYS_JWT_SECRET": "another-secret-" + "o" * 40, "JOURNEYS_DATA_DIR": str(tmp_path)})
    with pytest.raises(Unauthenticated):
        read_user_token(other, token)


def test_token_for_an_admin(tmp_path: Path, with_demo_tenant: dict[str, str]) -> None:
    result = _run(tmp_path, "token", "--tenant", "demo", "--user", "boss", "--role", "admin", **with_demo_tenant)
    assert result.returncode == 0, result.stderr
    settings = load_settings({"JOURNEYS_JWT_SECRET": GOOD_SECRET, "JOURNEYS_DATA_DIR": str(tmp_path)})
    claims = read_user_token(settings, result.stdout.strip())
    assert (claims.subject, claims.role, claims.timezone) == ("boss", Role.ADMIN, None)


def test_a_token_for_an_unknown_tenant_is_refused_with_one_line(
    tmp_path: Path, with_demo_tenant: dict[str, str]
) -> None:
    result = _run(tmp_path, "token", "--tenant", "nosuch", "--user", "a", **with_demo_tenant)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == ["journeys: configuration error: no tenant 'nosuch'"]


def test_development_tokens_are_signed_with_the_kept_secret(tmp_path: Path, with_demo_tenant: dict[str, str]) -> None:
    # given no secret in the environment, the command generates and keeps one
    result = _run(
        tmp_path, "token", "--tenant", "demo", "--user", "alice", DATABASE_URL=with_demo_tenant["DATABASE_URL"]
    )
    assert result.returncode == 0, result.stderr
    # then a service reading the same data dir accepts the token
    settings = load_settings({"JOURNEYS_DATA_DIR": str(tmp_path / "data")})
    assert read_user_token(settings, result.stdout.strip()).subject == "alice"


def _assert_one_line_failure(result: subprocess.CompletedProcess[str], *mentions: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for mention in mentions:
        assert mention in lines[0], lines[0]


@pytest.mark.parametrize(
    ("env", "mention"),
    [
        ({"JOURNEYS_ENV": "production"}, "JOURNEYS_JWT_SECRET"),
        ({"JOURNEYS_ENV": "production", "JOURNEYS_JWT_SECRET": "changeme"}, "JOURNEYS_JWT_SECRET"),
        ({"DATABASE_URL": "mysql://x/y", "JOURNEYS_JWT_SECRET": GOOD_SECRET}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u@db:port/x", "JOURNEYS_JWT_SECRET": GOOD_SECRET}, "DATABASE_URL"),
        ({"JOURNEYS_ENV": "staging"}, "JOURNEYS_ENV"),
        ({"LIVEKIT_URL": "wss://livekit.example"}, "LIVEKIT"),
    ],
)
@pytest.mark.parametrize("command", [["token", "--tenant", "demo", "--user", "alice"], ["migrate"]])
def test_bad_configuration_exits_with_one_line(
    tmp_path: Path, env: dict[str, str], mention: str, command: list[str]
) -> None:
    result = _run(tmp_path, *command, **env)
    _assert_one_line_failure(result, "configuration", mention)


def test_bad_arguments_exit_with_one_line(tmp_path: Path) -> None:
    result = _run(
        tmp_path, "token", "--tenant", "demo", "--user", "a", "--tz", "Mars/Olympus", JOURNEYS_JWT_SECRET=GOOD_SECRET
    )
    _assert_one_line_failure(result, "Mars/Olympus")
    result = _run(tmp_path, "token", "--tenant", "demo", "--user", "a", "--ttl", "0", JOURNEYS_JWT_SECRET=GOOD_SECRET)
    _assert_one_line_failure(result, "--ttl")


def test_an_unreachable_database_is_explained_without_a_traceback(tmp_path: Path) -> None:
    # given a database URL where nothing listens
    result = _run(
        tmp_path, "migrate", DATABASE_URL="postgresql+asyncpg://u@127.0.0.1:1/journeys", JOURNEYS_JWT_SECRET=GOOD_SECRET
    )
    # then the command fails with a sentence, not a stack trace
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "database" in result.stderr.strip().splitlines()[-1]


def test_export_schema_writes_the_schema(tmp_path: Path) -> None:
    target = tmp_path / "exported.graphql"
    result = _run(tmp_path, "export-schema", "--output", str(target), JOURNEYS_JWT_SECRET=GOOD_SECRET)
    assert result.returncode == 0, result.stderr
    assert target.read_text() == schema.as_str() + "\n"
    assert str(target) in result.stdout
