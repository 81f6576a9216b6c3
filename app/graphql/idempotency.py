"""The ``Idempotency-Key`` header on mutations over HTTP (SPEC §15); the keys' storage and its
concurrency rules are app/idempotency.py's.

A POST whose operation is a mutation and that carries the header is answered once per
(tenant, user, key): the first response — status, headers and body, byte for byte — is stored
and replayed to every repeat of the same request (the canonical document, its variables and
operation name; hashed, not stored), marked ``Idempotent-Replayed: true``. A different request
with the key is ``IDEMPOTENCY_KEY_REUSED`` (422) and runs nothing. Anything else — a query,
a GET, a body that cannot run, a request without a valid credential — goes on as if the
header were absent, and is answered as usual.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse, print_ast
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.http.parse_content_type import parse_content_type

from app.db import SessionGate, unavailable
from app.errors import DomainError, ErrorCode
from app.graphql.context import bearer_credential
from app.graphql.limits import MAX_TOKENS
from app.graphql.persisted import PersistedQueries
from app.graphql.requests import RETRY_AFTER_SECONDS, RequestJsonError, decode_request_json
from app.idempotency import KeyReused, KeyScope, Lease, Recorded, StillRunning, claim
from app.runtime import Runtime
from app.sealing import Sealer
from app.tenancy.service import Viewer, authenticate

log = logging.getLogger("app.idempotency")

HEADER = "idempotency-key"
REPLAYED = "idempotent-replayed"
MAX_KEY = 255
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY}}}")  # printable ASCII

Respond = Callable[[Request], Awaitable[Response]]


def _refusal(code: ErrorCode, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code.value, "status": code.status}}]}
    return JSONResponse(body, status_code=code.status, headers=headers)


def request_hash(document: str, variables: dict[str, Any] | None, operation_name: str | None) -> str:
    """SHA-256 of the canonical request: the printed document (so layout and comments do not
    count), the variables with sorted keys, and the operation name."""
    canonical = json.dumps(
        {"document": document, "variables": variables or {}, "operationName": operation_name},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,  # lone surrogates and all: the text is ASCII
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotentRequests:
    """The hook the GraphQL view answers every HTTP request through."""

    def __init__(self, runtime: Runtime, persisted: PersistedQueries) -> None:
        self.runtime = runtime
        self.persisted = persisted
        settings = runtime.settings
        # Stored responses are sealed (app/sealing.py) with JOURNEYS_SECRET_KEY, or the JWT secret
        # where it is unset: either way a key the database does not hold.
        self.sealer = Sealer((settings.secret_key or settings.jwt_secret).encode(), "journeys idempotent responses")

    async def answer(self, request: Request, respond: Respond) -> Response:
        """``respond(request)``, or for a keyed mutation its stored response (see the module docstring)."""
        keys = request.headers.getlist(HEADER)
        if not keys or request.method != "POST":
            return await respond(request)
        fingerprint = await self._mutation(request)
        if fingerprint is None:
            return await respond(request)
        if len(keys) > 1 or not _KEY.fullmatch(keys[0]):
            message = f"Idempotency-Key must be given once, as 1 to {MAX_KEY} printable ASCII characters"
            return _refusal(ErrorCode.BAD_USER_INPUT, message)
        try:
            viewer = await self._viewer(request)
            if viewer is None:
                return await respond(request)  # answered UNAUTHENTICATED, with nothing run
            scope = KeyScope(tenant_id=viewer.tenant_id, user_id=viewer.user_id, key=keys[0])
            outcome = await claim(self.runtime.engine, scope, fingerprint, sealer=self.sealer)
        except KeyReused as exc:
            return _refusal(exc.code, exc.message)
        except StillRunning:
            message = "The first request with this Idempotency-Key is still running; retry later"
            return _refusal(ErrorCode.TEMPORARILY_UNAVAILABLE, message, {"Retry-After": str(RETRY_AFTER_SECONDS)})
        except Exception as exc:
            if not unavailable(exc):
                raise
            message = "The service is temporarily unavailable; retry later"
            return _refusal(ErrorCode.TEMPORARILY_UNAVAILABLE, message, {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if isinstance(outcome, Recorded):
            return _replay(outcome)
        return await _run(outcome, request, respond)

    async def _mutation(self, request: Request) -> str | None:
        """The request hash of a POSTed JSON mutation; None for anything else."""
        content_type, _ = parse_content_type(request.headers.get("content-type", ""))
        if "application/json" not in content_type:
            return None
        try:
            data = decode_request_json(await request.body())
        except RequestJsonError:
            return None
        if not isinstance(data, dict):
            return None
        query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
        extensions = data.get("extensions")
        if not (
            isinstance(query, str | None)
            and isinstance(variables, dict | None)
            and isinstance(name, str | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        try:
            # A persisted query by hash is the same request as its text (APQ, app/graphql/persisted.py).
            text = self.persisted.resolve(query, extensions)
            document = parse(text, no_location=True, max_tokens=MAX_TOKENS) if text is not None else None
        except GraphQLError:
            return None
        operation = get_operation_ast(document, name) if document is not None else None
        if document is None or operation is None or operation.operation is not OperationType.MUTATION:
            return None
        return request_hash(print_ast(document), variables, name)

    async def _viewer(self, request: Request) -> Viewer | None:
        """Who sends the request; None without a valid credential."""
        gate = SessionGate(self.runtime.sessions)
        try:
            credential = bearer_credential(request.headers.get("authorization"))
            if credential is None:
                return None
            return await authenticate(
                gate.read, settings=self.runtime.settings, credential=credential, cache=self.runtime.viewers
            )
        except DomainError:
            return None
        finally:
            await gate.close()


async def _run(lease: Lease, request: Request, respond: Respond) -> Response:
    """Run the request holding the key's lease; keep its response unless it says to retry."""
    async with lease:
        response = await respond(request)
        body = getattr(response, "body", None)
        # A 503 (the database went away) tells the client to retry: the retry must run.
        if isinstance(body, bytes) and response.status_code != ErrorCode.TEMPORARILY_UNAVAILABLE.status:
            headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response.raw_headers]
            try:
                await lease.keep(Recorded(status=response.status_code, headers=headers, body=body))
            except Exception:  # the response stands; a retry will run the request again
                log.warning("could not store the response of an idempotent request", exc_info=True)
    return response


def _replay(recorded: Recorded) -> Response:
    response = Response(recorded.body, status_code=recorded.status)
    response.raw_headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in recorded.headers]
    response.raw_headers.append((REPLAYED.encode(), b"true"))
    return response
