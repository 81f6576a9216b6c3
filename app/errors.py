"""Domain errors and the public error codes. No GraphQL imports here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any


class ErrorCode(str, Enum):
    """The public error codes."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    ALREADY_ACTIVE = "ALREADY_ACTIVE"
    NOT_ACTIVE = "NOT_ACTIVE"
    NOT_SUSPENDED = "NOT_SUSPENDED"
    UNAVAILABLE = "UNAVAILABLE"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    NOT_CONFIGURED = "NOT_CONFIGURED"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    STEP_MISMATCH = "STEP_MISMATCH"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"

    @property
    def status(self) -> int:
        """The HTTP status a REST client would have seen for this code."""
        return _STATUS[self]

    @property
    def description(self) -> str:
        """When the code is used."""
        return _DESCRIPTION[self]


_STATUS = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.BAD_USER_INPUT: 400,
    ErrorCode.ALREADY_ACTIVE: 422,
    ErrorCode.NOT_ACTIVE: 422,
    ErrorCode.NOT_SUSPENDED: 422,
    ErrorCode.UNAVAILABLE: 422,
    ErrorCode.QUERY_TOO_COMPLEX: 400,
    ErrorCode.NOT_CONFIGURED: 503,
    ErrorCode.UPSTREAM_FAILED: 502,
    ErrorCode.TEMPORARILY_UNAVAILABLE: 503,
    ErrorCode.PERSISTED_QUERY_NOT_FOUND: 400,
    ErrorCode.STEP_MISMATCH: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
}


_DESCRIPTION = {
    ErrorCode.UNAUTHENTICATED: "no, bad or expired credential.",
    ErrorCode.FORBIDDEN: "the viewer's role lacks the right (a user calling an admin operation).",
    ErrorCode.NOT_FOUND: "unknown id, unpublished for a user, or another tenant's or user's.",
    ErrorCode.BAD_USER_INPUT: "an invalid argument or input field (page size, cursor, timezone, JSON, answers).",
    ErrorCode.ALREADY_ACTIVE: "a start while an ACTIVE or SUSPENDED run of the same journey or onboarding exists.",
    ErrorCode.NOT_ACTIVE: "progress, a log or an event on a run that is not ACTIVE.",
    ErrorCode.NOT_SUSPENDED: "a resume of a run that is not SUSPENDED.",
    ErrorCode.UNAVAILABLE: "an inactive avatar, or a mode it does not offer.",
    ErrorCode.QUERY_TOO_COMPLEX: "a document over a limit (depth, aliases, tokens, result size, body size).",
    ErrorCode.NOT_CONFIGURED: "Ably or LiveKit is not configured.",
    ErrorCode.UPSTREAM_FAILED: "Ably or LiveKit failed or timed out.",
    ErrorCode.TEMPORARILY_UNAVAILABLE: "the database cannot be reached; retry later (Retry-After).",
    ErrorCode.PERSISTED_QUERY_NOT_FOUND: "a persisted-query hash this server does not know; send the query with it.",
    ErrorCode.STEP_MISMATCH: "an `expectedStep` ahead of the onboarding run's current step.",
    ErrorCode.IDEMPOTENCY_KEY_REUSED: "an `Idempotency-Key` sent again with a different request.",
    ErrorCode.INTERNAL_SERVER_ERROR: "anything unexpected; the request id is in the server log.",
}


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input field: its path (e.g. ``["input", "title"]``) and what is wrong."""

    field: tuple[str, ...]
    message: str


class DomainError(Exception):
    """A business rule said no. Mutations return it as a ``UserError``."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: Sequence[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = tuple(field) if field is not None else None


class NotFound(DomainError):
    """The object does not exist or the viewer may not see it."""

    def __init__(self, what: str, *, field: Sequence[str] | None = None) -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"{what} not found", field=field)


class InvalidInput(DomainError):
    """One or more input fields are invalid; every problem is listed."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        if not problems:
            raise ValueError("InvalidInput needs at least one problem")
        self.problems = tuple(problems)
        first = self.problems[0]
        message = "; ".join(f"{'.'.join(p.field)}: {p.message}" for p in self.problems)
        super().__init__(ErrorCode.BAD_USER_INPUT, message, field=first.field)


class Problems:
    """Collects field problems while validating, then raises them all at once."""

    def __init__(self, *prefix: str) -> None:
        self.prefix = prefix
        self.items: list[FieldProblem] = []

    def add(self, field: str | Sequence[str], message: str) -> None:
        path = (field,) if isinstance(field, str) else tuple(field)
        self.items.append(FieldProblem(self.prefix + path, message))

    def text(self, field: str, value: Any, *, required: bool, limit: int) -> str | None:
        """A stripped text field: required ones must be given and not blank; at most ``limit`` characters."""
        if value is None:
            if required:
                self.add(field, "is required")
            return None
        text = str(value).strip()
        if required and not text:
            self.add(field, "must not be blank")
        elif len(text) > limit:
            self.add(field, f"must be at most {limit} characters")
        return text

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)
