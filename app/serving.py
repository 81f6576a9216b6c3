"""How `journeys serve` runs under uvicorn (the test suite's live server uses the same options)."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from app.graphql.limits import MAX_BODY_BYTES

GOING_AWAY = 1001


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
    "ws": GoingAwayWebSocketProtocol,
    # A websocket message is held to the same 1 MiB as an HTTP body (bigger: closed with 1009).
    "ws_max_size": MAX_BODY_BYTES,
    # On shutdown, running requests get this many seconds to finish.
    "timeout_graceful_shutdown": 10,
}
