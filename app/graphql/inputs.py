"""Turning GraphQL inputs into service arguments."""

from __future__ import annotations

from typing import Any

import strawberry

from app.modelbase import UNSET


def given_fields(value: object, *, rename: dict[str, str] | None = None) -> dict[str, Any]:
    """The input's fields the client actually sent (omitted ones stay UNSET in the service)."""
    rename = rename or {}
    out: dict[str, Any] = {}
    for name, field_value in vars(value).items():
        if field_value is strawberry.UNSET:
            continue
        out[rename.get(name, name)] = field_value
    return out


__all__ = ["UNSET", "given_fields"]
