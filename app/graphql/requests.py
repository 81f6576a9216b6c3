"""Reading a GraphQL request's body, and answering a request that cannot run as a GraphQL error.

The body is JSON decoded by orjson (which refuses invalid UTF-8 and nests at most 1,024 deep
before it gives up) and then held to ``MAX_JSON_DEPTH``. orjson also refuses lone surrogate
escapes outright; those bodies are decoded again by the standard library, so the input check
(app/graphql/input_checks.py) can name the variable that holds one.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse

MAX_JSON_DEPTH = 64
RETRY_AFTER_SECONDS = 5

_CODES = {
    400: "BAD_USER_INPUT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "BAD_USER_INPUT",
    413: "QUERY_TOO_COMPLEX",
}


def http_error(status: int, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """A response for a request that never reached execution, shaped as GraphQL errors."""
    code = _CODES.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_USER_INPUT")
    body = {"errors": [{"message": message, "extensions": {"code": code, "status": status}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class RequestJsonError(json.JSONDecodeError):
    """A body (or websocket message) that cannot be taken as JSON; ``reason`` says why.
    A JSONDecodeError, so Strawberry's websocket handler closes with 4400 on it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)
        self.reason = reason


def decode_request_json(data: str | bytes) -> Any:
    """The request's JSON; :class:`RequestJsonError` for bad UTF-8, bad JSON or nesting
    deeper than the limit."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc) or "UTF-8" in str(exc):
            raise RequestJsonError(_reason(exc)) from exc
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as again:
            raise RequestJsonError("The request body is not valid JSON") from again
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise RequestJsonError(f"The request body nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def _reason(exc: orjson.JSONDecodeError) -> str:
    text = str(exc)
    if "UTF-8" in text:
        return "The request body is not valid UTF-8"
    if "depth" in text:
        return f"The request body nests deeper than {MAX_JSON_DEPTH} levels"
    return "The request body is not valid JSON"


def _depth_exceeds(value: Any, limit: int) -> bool:
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        level.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
