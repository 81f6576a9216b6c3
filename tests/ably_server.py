"""A local HTTP server speaking the part of Ably's REST protocol the ably SDK uses to publish.

- ``POST /keys/{keyName}/requestToken`` takes a signed token request (JSON or msgpack), checks
  its mac with the key's secret (HMAC-SHA256 over ``keyName\\nttl\\ncapability\\nclientId\\n
  timestamp\\nnonce\\n``, base64), that its timestamp is current and its nonce fresh, and issues
  a token for exactly the requested capability and client id.
- ``POST /channels/{channel}/messages`` takes one message or a list (JSON or msgpack, ``data``
  decoded by its ``encoding``), authorised by ``Basic base64(key)`` or ``Bearer base64(token)``
  with the right to publish on the channel; an expired token is refused with 40142 so the SDK
  renews it. Like Ably, a message whose id the channel has already accepted is acknowledged but
  not delivered again.
- ``GET /time``.

:meth:`AblyServer.fail` makes it answer 500 or drop connections until :meth:`recover`.
It runs in its own thread, so it answers whatever the test's event loop is doing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import msgpack

MSGPACK = "application/x-msgpack"


@dataclass(frozen=True)
class Published:
    """One message as the server received it."""

    channel: str
    id: str | None
    name: str | None
    data: Any


@dataclass
class Token:
    token: str
    key_name: str
    client_id: str | None
    capability: dict[str, list[str]]
    expires: int


def now_ms() -> int:
    return int(time.time() * 1000)


def token_request_mac(secret: str, request: dict[str, Any]) -> str:
    """Ably's documented signature of a token request."""
    text = "".join(
        f"{'' if request.get(name) is None else request[name]}\n"
        for name in ("keyName", "ttl", "capability", "clientId", "timestamp", "nonce")
    )
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()


class AblyError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _State:
    keys: dict[str, str]
    token_ttl_ms: int | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    failing: str | None = None
    failed_requests: int = 0
    received: list[Published] = field(default_factory=list)
    accepted: list[Published] = field(default_factory=list)
    accepted_ids: set[tuple[str, str]] = field(default_factory=set)
    tokens: dict[str, Token] = field(default_factory=dict)
    nonces: set[tuple[str, str]] = field(default_factory=set)


class AblyServer:
    """The server and what it has seen."""

    def __init__(self, keys: dict[str, str], *, token_ttl_ms: int | None = None) -> None:
        """``keys``: key name (``appId.keyId``) to secret. ``token_ttl_ms`` caps issued tokens' lives."""
        self._state = _State(keys=dict(keys), token_ttl_ms=token_ttl_ms)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.ably = self._state  # type: ignore[attr-defined]
        self.port: int = self._httpd.server_address[1]
        self.host = "127.0.0.1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def fail(self, mode: str = "status") -> None:
        """Fail every request from now on: ``status`` answers 500, ``drop`` closes the connection unanswered."""
        assert mode in {"status", "drop"}
        with self._state.lock:
            self._state.failing = mode

    def recover(self) -> None:
        with self._state.lock:
            self._state.failing = None

    def reset(self) -> None:
        """Forget every message and failure (issued tokens stay valid)."""
        with self._state.lock:
            self._state.failing = None
            self._state.failed_requests = 0
            self._state.received.clear()
            self._state.accepted.clear()
            self._state.accepted_ids.clear()

    @property
    def failed_requests(self) -> int:
        with self._state.lock:
            return self._state.failed_requests

    @property
    def tokens_issued(self) -> int:
        with self._state.lock:
            return len(self._state.tokens)

    def received(self) -> list[Published]:
        """Every message published, duplicates included, in arrival order."""
        with self._state.lock:
            return list(self._state.received)

    def messages(self, channel: str) -> list[Published]:
        """The messages the channel delivered (each message id once), in order."""
        with self._state.lock:
            return [m for m in self._state.accepted if m.channel == channel]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def state(self) -> _State:
        state: _State = self.server.ably  # type: ignore[attr-defined]
        return state

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.state.lock:
            failing = self.state.failing
            if failing:
                self.state.failed_requests += 1
        if failing == "drop":
            self.close_connection = True
            return
        try:
            if failing == "status":
                raise AblyError(500, 50000, "Internal error (the test made it fail)")
            path = urlsplit(self.path).path
            parts = path.strip("/").split("/")
            if method == "GET" and parts == ["time"]:
                self._reply(200, [now_ms()])
            elif method == "POST" and len(parts) == 3 and parts[0] == "keys" and parts[2] == "requestToken":
                self._reply(200, self._request_token(unquote_plus(parts[1]), self._decode(body)))
            elif method == "POST" and len(parts) == 3 and parts[0] == "channels" and parts[2] == "messages":
                self._reply(201, self._publish(unquote_plus(parts[1]), self._decode(body)))
            else:
                raise AblyError(404, 40400, f"no such endpoint: {method} {path}")
        except AblyError as exc:
            self._reply(exc.status, {"error": {"message": exc.message, "code": exc.code, "statusCode": exc.status}})

    def _decode(self, body: bytes) -> Any:
        if (self.headers.get("Content-Type") or "").startswith(MSGPACK):
            return msgpack.unpackb(body)
        return json.loads(body)

    def _reply(self, status: int, value: Any) -> None:
        if MSGPACK in (self.headers.get("Accept") or ""):
            content, content_type = msgpack.packb(value, use_bin_type=True), MSGPACK
        else:
            content, content_type = json.dumps(value).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _request_token(self, key_name: str, request: dict[str, Any]) -> dict[str, Any]:
        secret = self.state.keys.get(key_name)
        if secret is None or request.get("keyName") != key_name:
            raise AblyError(404, 40400, "no such key")
        if not hmac.compare_digest(str(request.get("mac") or ""), token_request_mac(secret, request)):
            raise AblyError(401, 40101, "Invalid credentials: the token request's mac does not match")
        timestamp = int(request.get("timestamp") or 0)
        if abs(now_ms() - timestamp) > 10 * 60 * 1000:
            raise AblyError(401, 40104, "Timestamp not current")
        nonce = str(request.get("nonce") or "")
        capability = json.loads(request.get("capability") or '{"*":["*"]}')
        ttl = int(request.get("ttl") or 60 * 60 * 1000)
        with self.state.lock:
            if len(nonce) < 16 or (key_name, nonce) in self.state.nonces:
                raise AblyError(401, 40105, "Nonce value replayed")
            self.state.nonces.add((key_name, nonce))
            if self.state.token_ttl_ms is not None:
                ttl = min(ttl, self.state.token_ttl_ms)
            issued = now_ms()
            token = Token(secrets.token_urlsafe(24), key_name, request.get("clientId"), capability, issued + ttl)
            self.state.tokens[token.token] = token
        return {
            "token": token.token,
            "keyName": key_name,
            "issued": issued,
            "expires": token.expires,
            "capability": json.dumps(capability),
            "clientId": token.client_id,
        }

    def _authorised_to_publish(self, channel: str) -> None:
        scheme, _, credential = (self.headers.get("Authorization") or "").partition(" ")
        try:
            decoded = base64.b64decode(credential, validate=True).decode()
        except ValueError:
            raise AblyError(401, 40101, "Invalid credentials") from None
        if scheme == "Basic":
            key_name, _, secret = decoded.partition(":")
            if self.state.keys.get(key_name) is None or not hmac.compare_digest(self.state.keys[key_name], secret):
                raise AblyError(401, 40101, "Invalid credentials")
            return
        if scheme != "Bearer":
            raise AblyError(401, 40101, "No authentication")
        with self.state.lock:
            token = self.state.tokens.get(decoded)
        if token is None:
            raise AblyError(401, 40101, "Invalid token")
        if token.expires <= now_ms():
            raise AblyError(401, 40142, "Token expired")
        ops = [op for resource, grant in token.capability.items() if resource in {"*", channel} for op in grant]
        if not {"publish", "*"} & set(ops):
            raise AblyError(401, 40160, f"Action not permitted on channel {channel}")

    def _publish(self, channel: str, body: Any) -> dict[str, Any]:
        self._authorised_to_publish(channel)
        messages = body if isinstance(body, list) else [body]
        published = [Published(channel, m.get("id"), m.get("name"), _decode_data(m)) for m in messages]
        with self.state.lock:
            for message in published:
                self.state.received.append(message)
                key = (channel, message.id) if message.id is not None else None
                if key is not None and key in self.state.accepted_ids:
                    continue  # Ably's idempotent publishing: the same id on a channel is delivered once
                if key is not None:
                    self.state.accepted_ids.add(key)
                self.state.accepted.append(message)
        return {"serials": [f"serial-{secrets.token_hex(4)}" for _ in published]}


def _decode_data(message: dict[str, Any]) -> Any:
    data = message.get("data")
    encodings = [e for e in (message.get("encoding") or "").split("/") if e]
    for encoding in reversed(encodings):
        if encoding == "json":
            data = json.loads(data)
        elif encoding == "base64":
            data = base64.b64decode(data)
        elif encoding == "utf-8":
            data = data.decode() if isinstance(data, bytes) else data
        else:
            raise AblyError(400, 40013, f"unsupported encoding {encoding}")
    return data
