"""The HTTP edge: request ids, access logs, metrics, and the limits no route may skip.

- The request id (``x-request-id`` when it is a plain token, else a new one) goes on every
  log record (app/logs.py) and on the response.
- Headers are decoded as ISO-8859-1, as HTTP defines them, so no byte in a header can fail
  the request; together they may take at most MAX_HEADER_BYTES (431). `journeys serve`
  refuses larger ones before reading them (app/serving.py); this check covers any server.
- Bodies are held to MAX_BODY_BYTES (413), declared or streamed.
- An unexpected failure before the response has started is answered as a GraphQL-shaped
  500 with the request id and ``connection: close`` (the connection may be in any state),
  and logged with its traceback.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.graphql.limits import MAX_BODY_BYTES, MAX_HEADER_BYTES
from app.logs import CURRENT_REQUEST, RequestLog
from app.metrics import observe_request, serve_websocket

log = logging.getLogger("app.http")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _BodyTooLarge(Exception):
    pass


def _error(status: int, code: str, message: str, **extra: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code, "status": status, **extra}}]}
    return JSONResponse(body, status_code=status, headers={"connection": "close"} if status >= 500 else None)


class RequestContextMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers", [])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # Every log record written while this request is handled carries its id (app/logs.py).
        CURRENT_REQUEST.set(RequestLog(request_id))
        if scope["type"] == "websocket":
            await serve_websocket(self.app, scope, receive, send)  # counted while open (app/metrics.py)
            return
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            refusal = _refusal(raw_headers, headers)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            else:
                await self.app(scope, _limited(receive), send_with_id)
        except _BodyTooLarge:
            if not response_started:
                await _too_large()(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error handling %s %s", scope.get("method"), scope.get("path"))
            if not response_started:
                message = f"Internal server error (request id {request_id})"
                response = _error(500, "INTERNAL_SERVER_ERROR", message, requestId=request_id)
                await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            observe_request(scope.get("path", ""), status, elapsed)
            log.info("%s %s %s %.1fms", scope.get("method"), scope.get("path"), status, elapsed * 1000)


def _refusal(raw_headers: list[tuple[bytes, bytes]], headers: dict[str, str]) -> JSONResponse | None:
    """A response refusing the request outright, from its headers alone; None to go on."""
    if sum(len(k) + len(v) + 4 for k, v in raw_headers) > MAX_HEADER_BYTES:
        return _error(431, "BAD_USER_INPUT", f"Request headers exceed {MAX_HEADER_BYTES} bytes")
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _too_large()
    return None


def _too_large() -> JSONResponse:
    return _error(413, "QUERY_TOO_COMPLEX", f"Request body exceeds {MAX_BODY_BYTES} bytes")


def _limited(receive: Receive) -> Receive:
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise _BodyTooLarge
        return message

    return limited_receive
