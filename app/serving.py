"""How `journeys serve` runs under uvicorn: the websocket protocol it speaks on shutdown."""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

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
