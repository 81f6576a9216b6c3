"""Configuration: one Settings object built from the environment and an optional `.env`.

No other module reads ``os.environ``; everything asks :func:`get_settings`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "changethis"}
MIN_SECRET_LENGTH = 32
BROADCAST_SCHEMES = {"memory", "postgres", "postgresql", "postgresql+asyncpg", "redis", "rediss"}


class ConfigError(Exception):
    """Configuration that cannot work; the CLI prints it as one line and exits."""


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told from outside."""

    env: str = "development"
    data_dir: Path = Path(".journeys")
    database_url: str | None = None
    jwt_secret: str = ""
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    graphiql: bool = True
    introspection: bool = True
    broadcast_url: str = "memory://"
    ably_api_key: str | None = None
    ably_rest_host: str | None = None
    ably_rest_port: int | None = None
    ably_tls: bool = True
    ably_poll_interval: float = 0.5
    ably_retry_max: float = 30.0
    livekit_url: str | None = None
    livekit_api_key: str | None = None
    livekit_api_secret: str | None = None
    livekit_timeout: float = 10.0
    livekit_reconcile_interval: float = 60.0
    log_level: str = "INFO"
    log_format: str = "text"
    persisted_only: bool = False
    persisted_queries: Path | None = None
    # Observability (app/metrics.py, app/tracing.py): the standard variables of each.
    metrics_multiproc_dir: Path | None = None
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "journeys"
    # Outbound webhooks (app/webhooks/): the key sealing their secrets, and who may be called.
    secret_key: str | None = None
    webhook_allow_private: bool = False
    webhook_poll_interval: float = 0.5

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def cursor_secret(self) -> bytes:
        """Key for signing pagination cursors, derived from the JWT secret."""
        return ("cursor:" + self.jwt_secret).encode()

    @property
    def webhook_key_material(self) -> bytes | None:
        """What webhook secrets are sealed with: JOURNEYS_SECRET_KEY, or outside production one
        derived from the JWT secret; None in production without it (webhooks are then NOT_CONFIGURED)."""
        if self.secret_key:
            return self.secret_key.encode()
        return None if self.production else ("webhook-secrets:" + self.jwt_secret).encode()


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"expected a boolean (true/false), got {value!r}")


def _seconds(environ: dict[str, str], name: str, default: float, *, allow_zero: bool) -> float:
    raw = environ.get(name) or None
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise ConfigError(f"{name} must be {'0 or more' if allow_zero else 'more than 0'} seconds, got {raw!r}")
    return value


def _check_database_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number in 0..65535 raises here, not at connect time
    except ValueError as exc:  # the message names the bad part, never the password
        raise ConfigError(f"DATABASE_URL cannot be parsed: {exc}") from None
    if parts.scheme not in {"postgresql+asyncpg", "postgresql", "postgres"}:
        raise ConfigError(f"DATABASE_URL must be a postgresql+asyncpg://… URL, got scheme {parts.scheme!r}")
    if not parts.path.strip("/"):
        raise ConfigError("DATABASE_URL names no database")
    if parts.scheme != "postgresql+asyncpg":
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def _development_secret(data_dir: Path) -> str:
    """A random development secret, kept in the data dir so tokens survive restarts."""
    path = data_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def _persisted_manifest(value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"JOURNEYS_PERSISTED_QUERIES: no file {value!r}")
    return path


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (default: a `.env` file overlaid by the process env)."""
    if environ is None:
        environ = {k: v for k, v in dotenv_values(".env").items() if v is not None}
        environ.update(os.environ)
    env = environ.get("JOURNEYS_ENV", "development").strip() or "development"
    if env not in {"development", "production", "test"}:
        raise ConfigError(f"JOURNEYS_ENV must be development, test or production, got {env!r}")
    production = env == "production"
    data_dir = Path(environ.get("JOURNEYS_DATA_DIR", ".journeys")).expanduser()

    database_url = environ.get("DATABASE_URL") or None
    if database_url is not None:
        database_url = _check_database_url(database_url)

    jwt_secret = environ.get("JOURNEYS_JWT_SECRET", "")
    if production:
        if jwt_secret.strip().lower() in _PLACEHOLDER_SECRETS:
            raise ConfigError("JOURNEYS_JWT_SECRET is required in production")
        if len(jwt_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"JOURNEYS_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters in production")
    elif not jwt_secret:
        jwt_secret = _development_secret(data_dir)

    graphiql = _flag(environ.get("JOURNEYS_GRAPHIQL"), not production)
    broadcast_url = environ.get("BROADCAST_URL", "memory://") or "memory://"
    if urlsplit(broadcast_url).scheme not in BROADCAST_SCHEMES:
        raise ConfigError(f"BROADCAST_URL must be memory://, postgres:// or redis://, got {broadcast_url!r}")

    ably_key = environ.get("ABLY_API_KEY") or None
    if ably_key is not None and (":" not in ably_key or "." not in ably_key.split(":", 1)[0]):
        raise ConfigError("ABLY_API_KEY must look like appId.keyId:secret")
    ably_port_raw = environ.get("ABLY_REST_PORT") or None
    try:
        ably_port = int(ably_port_raw) if ably_port_raw else None
    except ValueError as exc:
        raise ConfigError(f"ABLY_REST_PORT must be a number, got {ably_port_raw!r}") from exc

    ably_poll_interval = _seconds(environ, "ABLY_POLL_INTERVAL", 0.5, allow_zero=False)
    ably_retry_max = _seconds(environ, "ABLY_RETRY_MAX", 30.0, allow_zero=False)

    livekit = [environ.get(k) or None for k in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")]
    if any(livekit) and not all(livekit):
        raise ConfigError("LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET go together")
    if livekit[0] and urlsplit(livekit[0]).scheme not in {"ws", "wss", "http", "https"}:
        raise ConfigError(f"LIVEKIT_URL must be a ws://, wss://, http:// or https:// URL, got {livekit[0]!r}")
    livekit_timeout = _seconds(environ, "LIVEKIT_TIMEOUT", 10.0, allow_zero=False)
    livekit_reconcile_interval = _seconds(environ, "LIVEKIT_RECONCILE_INTERVAL", 60.0, allow_zero=True)

    log_level = (environ.get("JOURNEYS_LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"JOURNEYS_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")
    log_format = (environ.get("JOURNEYS_LOG_FORMAT") or ("json" if production else "text")).strip().lower()
    if log_format not in {"json", "text"}:
        raise ConfigError(f"JOURNEYS_LOG_FORMAT must be json or text, got {log_format!r}")

    secret_key = environ.get("JOURNEYS_SECRET_KEY") or None
    if secret_key is not None and production and len(secret_key) < MIN_SECRET_LENGTH:
        raise ConfigError(f"JOURNEYS_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production")

    multiproc_dir = environ.get("PROMETHEUS_MULTIPROC_DIR") or None
    otel_endpoint = (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "").strip() or None
    if otel_endpoint is not None and urlsplit(otel_endpoint).scheme not in {"http", "https"}:
        raise ConfigError(f"OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, got {otel_endpoint!r}")

    return Settings(
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        jwt_secret=jwt_secret,
        jwt_issuer=environ.get("JOURNEYS_JWT_ISSUER") or None,
        jwt_audience=environ.get("JOURNEYS_JWT_AUDIENCE") or None,
        graphiql=graphiql,
        introspection=graphiql,
        persisted_only=_flag(environ.get("JOURNEYS_PERSISTED_ONLY"), False),
        persisted_queries=_persisted_manifest(environ.get("JOURNEYS_PERSISTED_QUERIES")),
        broadcast_url=broadcast_url,
        ably_api_key=ably_key,
        ably_rest_host=environ.get("ABLY_REST_HOST") or None,
        ably_rest_port=ably_port,
        ably_tls=_flag(environ.get("ABLY_TLS"), True),
        ably_poll_interval=ably_poll_interval,
        ably_retry_max=ably_retry_max,
        livekit_url=livekit[0],
        livekit_api_key=livekit[1],
        livekit_api_secret=livekit[2],
        livekit_timeout=livekit_timeout,
        livekit_reconcile_interval=livekit_reconcile_interval,
        log_level=log_level,
        log_format=log_format,
        metrics_multiproc_dir=Path(multiproc_dir) if multiproc_dir else None,
        otel_exporter_otlp_endpoint=otel_endpoint,
        otel_service_name=(environ.get("OTEL_SERVICE_NAME") or "journeys").strip() or "journeys",
        secret_key=secret_key,
        webhook_allow_private=_flag(environ.get("JOURNEYS_WEBHOOK_ALLOW_PRIVATE"), False),
        webhook_poll_interval=_seconds(environ, "JOURNEYS_WEBHOOK_POLL_INTERVAL", 0.5, allow_zero=False),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings."""
    return load_settings()
