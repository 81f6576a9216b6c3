"""The error model: ``UserError`` payload entries, and the shaping of top-level errors."""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from graphql.validation.validate import ValidationAbortedError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from app.db import unavailable
from app.errors import DomainError, InvalidInput, NotFound
from app.errors import ErrorCode as DomainErrorCode
from app.graphql.scalars import JsonInputError

log = logging.getLogger("app.graphql")
T = TypeVar("T")

ErrorCode = strawberry.enum(
    DomainErrorCode,
    name="ErrorCode",
    # Every code with its HTTP status, from the enum itself (so a new code is never missing here).
    description="Why an operation failed, with the HTTP status of each code: "
    + ", ".join(f"{code.value} {code.status}" for code in DomainErrorCode)
    + ".",
)

# Failures that are never a mutation's business outcome: they go to the top-level errors.
TOP_LEVEL_CODES = {DomainErrorCode.UNAUTHENTICATED, DomainErrorCode.FORBIDDEN}


@strawberry.type(description="A business rule or input check that made a mutation fail.")
class UserError:
    code: DomainErrorCode = strawberry.field(description="What kind of failure this is.")
    message: str = strawberry.field(description="A readable explanation.")
    field: list[str] | None = strawberry.field(
        description='The path of the input field at fault, e.g. ["input", "title"], when one is.'
    )


def user_errors(exc: DomainError) -> list[UserError]:
    """One UserError per problem of ``exc``."""
    if isinstance(exc, InvalidInput):
        return [UserError(code=exc.code, message=p.message, field=list(p.field)) for p in exc.problems]
    return [UserError(code=exc.code, message=exc.message, field=list(exc.field) if exc.field else None)]


@dataclass(frozen=True)
class Failed:
    """A mutation's unit of work said no; ``errors`` go in the payload."""

    errors: list[UserError]


@dataclass(frozen=True)
class Done(Generic[T]):
    """A mutation's unit of work committed and produced ``value``."""

    value: T


async def run_write(info: Any, work: Callable[[AsyncSession], Awaitable[T]]) -> Done[T] | Failed:
    """Run ``work`` as the operation's unit of work; business failures become ``Failed``."""
    ctx = info.context
    try:
        async with ctx.db.write() as session:
            value = await work(session)
    except DomainError as exc:
        if exc.code in TOP_LEVEL_CODES:
            raise
        return Failed(user_errors(exc))
    return Done(value)


P = TypeVar("P")


async def write_payload(
    info: Any,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    ok: Callable[[T], P],
    failed: Callable[[list[UserError]], P],
) -> P:
    """Run ``work`` as the operation's unit of work and shape the payload either way."""
    result = await run_write(info, work)
    if isinstance(result, Failed):
        return failed(result.errors)
    return ok(result.value)


def require(key: T | None, what: str, field: str) -> T:
    """A decoded id, or NOT_FOUND on ``field`` (for use inside a unit of work)."""
    if key is None:
        raise NotFound(what, field=[field])
    return key


def _fields_extension(exc: DomainError) -> list[dict[str, Any]] | None:
    if isinstance(exc, InvalidInput):
        return [{"field": list(p.field), "message": p.message} for p in exc.problems]
    if exc.field:
        return [{"field": list(exc.field), "message": exc.message}]
    return None


class QueryTooComplex(GraphQLError):
    """Raised by the document limits; shaped as QUERY_TOO_COMPLEX."""


# graphql-core's limit errors: the token limit and its introspection depth rule.
_LIMIT_MESSAGES = ("Parsing aborted", "Maximum introspection depth exceeded")


# graphql-core ends a bad variable's message with the value as Python writes it ('x', True,
# None, {'a': 1}); clients get it as the JSON they sent.
_PYTHON_VALUE = re.compile(r".*value: (.+)$")


def _json_value(message: str) -> str:
    found = _PYTHON_VALUE.search(message)
    if found is None:
        return message
    try:
        value = ast.literal_eval(found.group(1))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return message
    return message[: found.start(1)] + json.dumps(value)


# Raised by Strawberry before execution for the HTTP view to answer with a status of its own.
_VIEW_SIGNALS = (InvalidOperationTypeError, CannotGetOperationTypeError, MissingQueryError)


class ErrorShaping(SchemaExtension):
    """Gives every top-level error ``extensions { code status }`` and masks unexpected ones."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:
            # An error raised by a hook rather than returned (say the token limit while
            # parsing) leaves the operation as an exception that becomes the response's one
            # error: shape it on its way out.
            raise self.shape(error) from None
        except _VIEW_SIGNALS:
            raise  # the view answers these itself (405, 400)
        except Exception as error:  # whatever else escaped: still an error with a code
            raise self.shape(GraphQLError(str(error), original_error=error)) from None
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors and not self._streamed:
            result.errors = [self.shape(error) for error in errors]

    _streamed = False

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Over websockets each result is sent before the operation ends: shape it on its way out.
        self._streamed = True
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [self.shape(error) for error in errors]
        yield

    def shape(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        while isinstance(original, GraphQLError) and original.original_error is not None:
            original = original.original_error
        extensions: dict[str, Any]
        message = error.message
        if isinstance(original, DomainError):
            extensions = {"code": original.code.value, "status": original.code.status}
            fields = _fields_extension(original)
            if fields:
                extensions["fields"] = fields
            message = original.message
        elif isinstance(original, JsonInputError):
            extensions = {"code": "BAD_USER_INPUT", "status": 400}
        elif isinstance(error, ValidationAbortedError):
            # graphql-core's overlap budget ran out (app/graphql/limits.py, OVERLAP_BUDGET).
            message = "The document selects the same fields too many times over; validation aborted"
            extensions = {"code": "QUERY_TOO_COMPLEX", "status": 400}
        elif isinstance(error, QueryTooComplex) or any(m in error.message for m in _LIMIT_MESSAGES):
            extensions = {"code": "QUERY_TOO_COMPLEX", "status": 400}
        elif unavailable(original):
            log.warning(
                "the database is unreachable (request %s): %s",
                getattr(self.execution_context.context, "request_id", "-"),
                type(original).__name__,
            )
            message = "The service is temporarily unavailable; retry later"
            extensions = {"code": "TEMPORARILY_UNAVAILABLE", "status": 503}
        elif original is None or isinstance(original, GraphQLError):
            # graphql-core's own errors (syntax, validation, variable values) are the client's.
            message = _json_value(message)
            code = str((error.extensions or {}).get("code"))
            if code in DomainErrorCode.__members__:
                extensions = {"code": code, "status": DomainErrorCode[code].status}
            else:
                extensions = {"code": "BAD_USER_INPUT", "status": 400}
        else:
            request_id = getattr(self.execution_context.context, "request_id", "-")
            log.error(
                "unexpected error in %s (request %s)",
                self.execution_context.operation_name or "anonymous operation",
                request_id,
                exc_info=original,
            )
            message = f"Internal server error (request id {request_id})"
            extensions = {"code": "INTERNAL_SERVER_ERROR", "status": 500, "requestId": request_id}
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )
