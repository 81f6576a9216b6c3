"""Custom scalars: ``JSON`` objects capped at 16 KiB."""

from __future__ import annotations

import json
from typing import Annotated, Any, NewType

import strawberry
from graphql import Undefined
from strawberry.types.scalar import ScalarDefinition

from app.rawjson import decoded

MAX_JSON_BYTES = 16 * 1024


class JsonInputError(ValueError):
    """A JSON argument that is not an object or is too large."""


def _unresolved_as_null(value: Any) -> None:
    # Validation parses a literal such as `{note: $note}` before variables have values, so
    # the variable is Undefined then; execution parses it again with the value and checks it.
    if value is not Undefined:
        raise TypeError(f"{type(value).__name__} is not JSON")


def parse_json_object(value: Any) -> dict[str, Any]:
    """Accept a JSON object of at most 16 KiB serialised."""
    if not isinstance(value, dict):
        raise JsonInputError("JSON input must be an object")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_unresolved_as_null).encode())
    if size > MAX_JSON_BYTES:
        raise JsonInputError(f"JSON input is {size} bytes; at most {MAX_JSON_BYTES} are allowed")
    return value


def whole_number(value: Any) -> int:
    """An integer of any size (a float that is a whole number is accepted)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise TypeError("expected a whole number")
    return int(value)


JSON = NewType("JSON", object)
EpochMillis = NewType("EpochMillis", int)

SCALAR_MAP: dict[object, ScalarDefinition] = {
    JSON: strawberry.scalar(
        name="JSON",
        description="A JSON value. As input it must be an object of at most 16 KiB serialised.",
        # Rows read JSON columns as text (app/rawjson.py): decoded here, only when served.
        serialize=decoded,
        parse_value=parse_json_object,
    ),
    EpochMillis: strawberry.scalar(
        name="EpochMillis",
        description=(
            "An instant as whole milliseconds since the Unix epoch, a JSON number (GraphQL's Int stops at 32 bits)."
        ),
        serialize=whole_number,
        parse_value=whole_number,
    ),
}


# The `metadata` argument of the user-side mutations that log what they did (runs, onboardings).
LogMetadata = Annotated[
    JSON | None, strawberry.argument(description="Free-form JSON object (at most 16 KiB) kept with the log entry.")
]


def json_argument(value: JSON | None) -> dict[str, Any] | None:
    """A JSON argument as the object its parser guarantees (None when not given)."""
    return value if isinstance(value, dict) else None
