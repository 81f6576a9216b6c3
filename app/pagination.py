"""Keyset pagination shared by every list: no offsets, stable while rows are added."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and whether more follow."""

    items: list[T]
    has_next: bool


def after_key(stmt: Select[Any], keys: Sequence[Any], after: Sequence[Any] | None, *, descending: bool) -> Select[Any]:
    """Restrict ``stmt`` to rows strictly after ``after`` in the order given by ``keys``."""
    if after is None:
        return stmt
    left = tuple_(*keys)
    right = tuple_(*after)
    return stmt.where(left < right if descending else left > right)


def ordered(stmt: Select[Any], keys: Sequence[Any], *, descending: bool) -> Select[Any]:
    """Order ``stmt`` by ``keys`` all in one direction (so one row comparison pages it)."""
    return stmt.order_by(*[k.desc() if descending else k.asc() for k in keys])


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    keys: Sequence[Any],
    after: Sequence[Any] | None,
    first: int,
    descending: bool,
) -> Page[Any]:
    """Run a keyset-paged select of ORM entities: ``first`` rows after ``after``."""
    stmt = ordered(after_key(stmt, keys, after, descending=descending), keys, descending=descending)
    rows = list((await session.execute(stmt.limit(first + 1))).scalars())
    return Page(items=rows[:first], has_next=len(rows) > first)
