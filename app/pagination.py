"""Keyset pagination shared by every list: no offsets, stable while rows are added, both ways.

A :class:`Window` says which rows a page holds; paging back is paging forward in the reversed
order (the rows just before a cursor, nearest first) and turning the rows round, so every list
pages both ways through :func:`bounded` (or :func:`keyset` for statements built once with bind
parameters) and :meth:`Window.page`. A page carries its list's :class:`Count`, run only when a
client asks for the total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
U = TypeVar("U")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class Count:
    """How many rows a list's statement selects under its filters (no cursor, order or limit):
    kept with its page and run only when a client asks for the total."""

    rows: Select[Any]
    params: Mapping[str, Any] = field(default_factory=dict)

    async def run(self, session: AsyncSession) -> int:
        query = select(func.count()).select_from(self.rows.order_by(None).limit(None).subquery())
        return int((await session.execute(query, dict(self.params))).scalar_one())


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows, in list order, and whether rows precede and follow it."""

    items: list[T]
    has_next: bool
    has_previous: bool = False
    count: Count | None = None

    def with_items(self, items: list[U]) -> Page[U]:
        """The same page holding ``items`` (the rows shaped into what the list serves)."""
        return Page(items=items, has_next=self.has_next, has_previous=self.has_previous, count=self.count)


@dataclass(frozen=True)
class Window:
    """Which rows of a list a page holds: the first ``size`` rows strictly after ``after`` and
    before ``before`` (each a key, each optional), or, ``backward``, the last ``size`` of them."""

    size: int = DEFAULT_PAGE_SIZE
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None
    backward: bool = False

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than the page tells whether the list goes on that way."""
        return self.size + 1

    @property
    def shape(self) -> tuple[bool, bool, bool]:
        """What a statement for this window depends on (not the cursors' values)."""
        return (self.after is not None, self.before is not None, self.backward)

    def fetch_descending(self, descending: bool) -> bool:
        """The order to fetch in: the list's own, or its reverse when paging back."""
        return descending != self.backward

    def params(self) -> dict[str, Any]:
        """The bind parameters of a :func:`keyset` statement of this window's shape."""
        params: dict[str, Any] = {"limit": self.limit}
        for prefix, key in (("after", self.after), ("before", self.before)):
            for index, value in enumerate(key or ()):
                params[f"{prefix}_{index}"] = value
        return params

    def page(self, rows: Sequence[T], *, count: Count | None = None) -> Page[T]:
        """The page of ``rows`` fetched in fetch order (at most :attr:`limit`), in list order.

        As the Relay cursor-connections spec has it: the side that was fetched knows from the
        extra row whether more rows lie that way; the other side has more exactly when a cursor
        was given there (the cursor's own row is on it)."""
        more = len(rows) > self.size
        items = list(rows[: self.size])
        if self.backward:
            items.reverse()
            return Page(items=items, has_next=self.before is not None, has_previous=more, count=count)
        return Page(items=items, has_next=more, has_previous=self.after is not None, count=count)


def forward(window: Window | None, *, first: int | None, after: Sequence[Any] | None) -> Window:
    """``window``, or for callers that page forward only (services, the CLI, tests) the window of
    ``first`` rows after ``after``."""
    if window is not None:
        return window
    return Window(size=DEFAULT_PAGE_SIZE if first is None else first, after=tuple(after) if after is not None else None)


def _beyond(keys: Sequence[Any], key: Sequence[Any], *, descending: bool) -> ColumnElement[bool]:
    left, right = tuple_(*keys), tuple_(*key)
    return left < right if descending else left > right


def after_key(stmt: Select[Any], keys: Sequence[Any], after: Sequence[Any] | None, *, descending: bool) -> Select[Any]:
    """Restrict ``stmt`` to rows strictly after ``after`` in the order given by ``keys``."""
    return stmt if after is None else stmt.where(_beyond(keys, after, descending=descending))


def before_key(
    stmt: Select[Any], keys: Sequence[Any], before: Sequence[Any] | None, *, descending: bool
) -> Select[Any]:
    """Restrict ``stmt`` to rows strictly before ``before`` in the order given by ``keys``."""
    return stmt if before is None else stmt.where(_beyond(keys, before, descending=not descending))


def ordered(stmt: Select[Any], keys: Sequence[Any], *, descending: bool) -> Select[Any]:
    """Order ``stmt`` by ``keys`` all in one direction (so one row comparison pages it)."""
    return stmt.order_by(*[k.desc() if descending else k.asc() for k in keys])


def bounded(stmt: Select[Any], keys: Sequence[Any], window: Window, *, descending: bool) -> Select[Any]:
    """``stmt`` (a list ordered by ``keys``) cut to ``window``: its rows between the cursors, in
    fetch order, at most :attr:`Window.limit` of them."""
    stmt = before_key(
        after_key(stmt, keys, window.after, descending=descending), keys, window.before, descending=descending
    )
    return ordered(stmt, keys, descending=window.fetch_descending(descending)).limit(window.limit)


def keyset(stmt: Select[Any], keys: Sequence[Any], shape: tuple[bool, bool, bool], *, descending: bool) -> Select[Any]:
    """As :func:`bounded`, for a statement built once per shape (:attr:`Window.shape`): the
    cursors and the limit are bind parameters, filled by :meth:`Window.params`."""
    has_after, has_before, backward = shape
    if has_after:
        after: list[Any] = [bindparam(f"after_{i}") for i in range(len(keys))]
        stmt = stmt.where(_beyond(keys, after, descending=descending))
    if has_before:
        before: list[Any] = [bindparam(f"before_{i}") for i in range(len(keys))]
        stmt = stmt.where(_beyond(keys, before, descending=not descending))
    return ordered(stmt, keys, descending=descending != backward).limit(bindparam("limit"))


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    keys: Sequence[Any],
    descending: bool,
    window: Window | None = None,
    first: int | None = None,
    after: Sequence[Any] | None = None,
) -> Page[Any]:
    """Run a keyset-paged select of ORM entities (``stmt`` filtered, not ordered): the window's
    rows (or ``first`` after ``after``) of the list ordered by ``keys``, with the list's count."""
    window = forward(window, first=first, after=after)
    rows = list((await session.execute(bounded(stmt, keys, window, descending=descending))).scalars())
    return window.page(rows, count=Count(stmt))
