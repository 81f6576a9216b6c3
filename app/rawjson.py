"""JSON columns read as text: decoded (with orjson) only when a response actually serves them.

``raw_json(column)`` selects a JSONB column as ``CAST(column AS TEXT)`` so that its rows hold a
:class:`RawJSON` with the text, instead of the object the driver would build with the stdlib
decoder for every row, asked for or not (SQLAlchemy's asyncpg dialect installs a json.loads
codec for json/jsonb on every connection, so only a cast in SQL avoids it). The text is
PostgreSQL's own rendering of the value. The GraphQL ``JSON`` scalar decodes it when it
serialises it.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Text, cast
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement, Label

_UNDECODED: Any = object()


class RawJSON:
    """A JSON document as text, decoded on first use."""

    __slots__ = ("_value", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._value = _UNDECODED

    def value(self) -> Any:
        """The decoded document (decoded once)."""
        if self._value is _UNDECODED:
            self._value = orjson.loads(self.text)
        return self._value

    def __eq__(self, other: object) -> bool:
        return bool(self.value() == (other.value() if isinstance(other, RawJSON) else other))

    __hash__ = None  # type: ignore[assignment]  # like the dicts and lists it stands for

    def __repr__(self) -> str:
        return f"RawJSON({self.text!r})"


def decoded(value: Any) -> Any:
    """``value`` itself, or the document a :class:`RawJSON` holds."""
    return value.value() if isinstance(value, RawJSON) else value


class _RawJSONType(Text):
    """Text in SQL; :class:`RawJSON` in result rows (the class itself is the result processor:
    no per-value wrapper, as a TypeDecorator would add)."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        return _raw


def _raw(value: str | None) -> RawJSON | None:
    return None if value is None else RawJSON(value)


def raw_json(column: ColumnElement[Any], label: str) -> Label[Any]:
    """``column`` (JSON or JSONB) selected as :class:`RawJSON`, under ``label``."""
    return cast(column, _RawJSONType()).label(label)
