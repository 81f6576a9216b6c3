"""How `journeys serve` runs under uvicorn (the test suite's live server uses the same options)."""

from __future__ import annotations

from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from app.graphql.limits import MAX_BODY_BYTES, MAX_HEADER_BYTES

GOING_AWAY = 1001


class _HeadersTooLarge(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, except that a request line and headers over
    MAX_HEADER_BYTES are refused with 431 as they arrive, before they are held in memory.

    uvicorn's httptools protocol has no such limit (a 16 MB header was accepted); its h11
    protocol has one (``h11_max_incomplete_event_size``) but answers 400, and parses in
    Python, which is slower on every request.
    """

    _header_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            raise _HeadersTooLarge

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadersTooLarge) or self._header_bytes > MAX_HEADER_BYTES:
                self._refuse_headers()
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _refuse_headers(self) -> None:
        body = HEADERS_TOO_LARGE_BODY
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


HEADERS_TOO_LARGE_BODY = (
    b'{"errors":[{"message":"Request headers exceed %d bytes","extensions":{"code":"BAD_USER_INPUT","status":431}}]}'
    % MAX_HEADER_BYTES
)


class GoingAwayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websocket protocol, except that a graceful shutdown closes open sockets with
    1001 Going Away (the server is going down; reconnect elsewhere) rather than uvicorn's 1012
    Service Restart. The application sees the same code in its `websocket.disconnect`."""

    def shutdown(self) -> None:
        if self.handshake_complete and not self.close_sent:
            self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
            self.conn.send_close(GOING_AWAY, "Server shutting down")
            self.transport.write(b"".join(self.conn.data_to_send()))
            # From here uvicorn's own shutdown takes the "close already sent" path: it stops the
            # keepalive and closes the transport.
            self.close_sent = True
        super().shutdown()


# uvicorn options shared by `journeys serve` and the tests' live server.
SERVER_OPTIONS: dict[str, Any] = {
    "http": BoundedHttpToolsProtocol,
    "ws": GoingAwayWebSocketProtocol,
    # A websocket message is held to the same 1 MiB as an HTTP body (bigger: closed with 1009).
    "ws_max_size": MAX_BODY_BYTES,
    # On shutdown, running requests get this many seconds to finish.
    "timeout_graceful_shutdown": 10,
}
