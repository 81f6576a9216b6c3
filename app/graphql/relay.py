"""Relay conventions: global ids, signed keyset cursors, and the one Connection type."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import lru_cache, partial
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from app import pagination
from app.errors import DomainError, ErrorCode
from app.pagination import MAX_PAGE_SIZE, Count, Page, Window

NodeT = TypeVar("NodeT")
ModelT = TypeVar("ModelT")


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID = strawberry.field(description="The object's opaque global id.")


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# A page makes the same ids request after request (each journey's, each of its events'): the
# latest ones are kept rather than formatted and encoded again (about 1 MB at most).
@lru_cache(maxsize=8192)
def to_global_id(type_name: str, local_id: uuid.UUID) -> strawberry.ID:
    """The opaque id of an object: its type and its key."""
    return strawberry.ID(_b64encode(f"{type_name}:{local_id}".encode()))


def parse_global_id(global_id: str) -> tuple[str, uuid.UUID] | None:
    """The type and key inside a global id, or None if it is not one of ours."""
    try:
        type_name, _, local = _b64decode(global_id).decode().partition(":")
        return type_name, uuid.UUID(local)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def local_id(global_id: str, type_name: str) -> uuid.UUID | None:
    """The key of a global id of the given type, or None (an unknown id, never an error)."""
    parsed = parse_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        return None
    return parsed[1]


def bad_input(message: str, field: str) -> DomainError:
    return DomainError(ErrorCode.BAD_USER_INPUT, message, field=[field])


def check_size(size: int, argument: str) -> int:
    """Page sizes are 1..100."""
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_input(f"{argument} must be between 1 and {MAX_PAGE_SIZE}", argument)
    return size


class DefaultSize(int):
    """The default of every `first` argument: an int that also tells the resolver `first` was not
    sent (graphql-core hands resolvers the default object itself), so that `last` alone pages
    back while an explicit `first` with `last` is refused."""


DEFAULT_PAGE_SIZE: int = DefaultSize(pagination.DEFAULT_PAGE_SIZE)

First = Annotated[
    int | None,
    strawberry.argument(
        description="Page size from the start, or after `after`: 1..100 (default 20; not with `last`)."
    ),
]
After = Annotated[str | None, strawberry.argument(description="Cursor of the item to continue after.")]
Last = Annotated[
    int | None,
    strawberry.argument(
        description="Page size from the end, or before `before`: 1..100 (pages back; not with `first`)."
    ),
]
Before = Annotated[str | None, strawberry.argument(description="Cursor of the item to continue before (paging back).")]


class CursorCodec:
    """Signs keyset positions, binding each to its tenant, list and filters (its scope)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def scope(self, tenant_id: uuid.UUID, list_name: str, filters: dict[str, Any]) -> str:
        """The hash binding cursors to one list of one tenant with these filters: computed once
        per page (:class:`PageRequest`), not once per cursor."""
        payload = json.dumps([str(tenant_id), list_name, filters], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:16]

    def encode(self, key: Sequence[Any], *, tenant_id: uuid.UUID, list_name: str, filters: dict[str, Any]) -> str:
        return self.encode_scoped(key, self.scope(tenant_id, list_name, filters))

    def encode_scoped(self, key: Sequence[Any], scope: str) -> str:
        values = [_encode_value(v) for v in key]
        body = json.dumps([scope, values], separators=(",", ":")).encode()
        return _b64encode(body + self._mac(body))

    def decode(self, cursor: str, *, tenant_id: uuid.UUID, list_name: str, filters: dict[str, Any]) -> list[Any]:
        """The key inside a cursor; anything forged, altered or foreign is BAD_USER_INPUT."""
        return self.decode_scoped(cursor, self.scope(tenant_id, list_name, filters))

    def decode_scoped(self, cursor: str, scope: str, argument: str = "after") -> list[Any]:
        try:
            raw = _b64decode(cursor)
            body, mac = raw[:-16], raw[-16:]
            if len(raw) <= 16 or not hmac.compare_digest(mac, self._mac(body)):
                raise ValueError("bad signature")
            found, values = json.loads(body)
            if found != scope:
                raise ValueError("cursor of another list")
            return [_decode_value(v) for v in values]
        except (ValueError, TypeError, binascii.Error, KeyError):
            raise bad_input(f"{argument} is not a valid cursor for this list", argument) from None


def _encode_value(value: Any) -> list[Any]:
    if isinstance(value, datetime):
        return ["d", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    if isinstance(value, bool) or value is None:
        raise TypeError(f"unsupported cursor value {value!r}")
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, str):
        return ["s", value]
    raise TypeError(f"unsupported cursor value {value!r}")


def _decode_value(item: list[Any]) -> Any:
    tag, value = item
    if tag == "d":
        return datetime.fromisoformat(value)
    if tag == "u":
        return uuid.UUID(value)
    if tag == "i" and isinstance(value, int):
        return value
    if tag == "s" and isinstance(value, str):
        return value
    raise ValueError("unknown cursor value")


@strawberry.type(description="An item of a list with its cursor.")
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The item.")
    # Cursors are signed, so they are made only when a client asks for one (and once).
    make_cursor: strawberry.Private[Callable[[], str]]
    made: strawberry.Private[str | None] = None

    @strawberry.field(
        description="An opaque position; pass it as `after` to continue after this item, or as `before` to page back."
    )
    def cursor(self) -> str:
        if self.made is None:
            self.made = self.make_cursor()
        return self.made


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description=(
            "Whether more items follow this page (paging back with `last`: true when the page was asked for "
            "`before` a cursor)."
        )
    )
    has_previous_page: bool = strawberry.field(
        description=(
            "Whether items precede this page (paging forward with `first`: true when the page was asked for "
            "`after` a cursor)."
        )
    )
    # Cursors are signed, so these too are made only when a client asks for them.
    first_edge: strawberry.Private[Edge[Any] | None]
    last_edge: strawberry.Private[Edge[Any] | None]

    @strawberry.field(description="The cursor of the first item, if any; pass it as `before` for the previous page.")
    def start_cursor(self) -> str | None:
        return self.first_edge.cursor() if self.first_edge is not None else None

    @strawberry.field(description="The cursor of the last item, if any; pass it as `after` for the next page.")
    def end_cursor(self) -> str | None:
        return self.last_edge.cursor() if self.last_edge is not None else None


# Counts the whole list for `totalCount`, given the request's context (typed Any: the context
# module imports this one).
Counter = Callable[[Any], Awaitable[int]]


def statement_counter(count: Count) -> Counter:
    """A counter running the list's COUNT statement on the request's read session."""

    async def run(context: Any) -> int:
        async with context.db.read() as session:
            return await count.run(session)

    return run


@strawberry.type(description="A page of a list, paged forward with `first`/`after` or back with `last`/`before`.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    # The COUNT runs only when `totalCount` is selected.
    counter: strawberry.Private[Counter | None] = None

    @strawberry.field(description="The items of this page without their cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many items the whole list holds under its filters (not just this page).")
    async def total_count(self, info: strawberry.Info) -> int:
        if self.counter is None:
            raise RuntimeError("this connection was built without a count")
        return await self.counter(info.context)


def build_connection(
    page: Page[ModelT],
    *,
    key: Callable[[ModelT], Sequence[Any]],
    node: Callable[[ModelT], NodeT],
    cursor: Callable[[Sequence[Any]], str],
    counter: Counter | None = None,
) -> Connection[NodeT]:
    """Shape a page of models as a connection of nodes."""
    edges = [Edge(node=node(item), make_cursor=partial(cursor, key(item))) for item in page.items]
    if counter is None and page.count is not None:
        counter = statement_counter(page.count)
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            first_edge=edges[0] if edges else None,
            last_edge=edges[-1] if edges else None,
        ),
        counter=counter,
    )


__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE"]


class PageRequest:
    """The validated `first`/`after`/`last`/`before` of one list of one tenant, as the
    :class:`~app.pagination.Window` to fetch, and how to make its cursors."""

    def __init__(
        self,
        codec: CursorCodec,
        *,
        tenant_id: uuid.UUID,
        list_name: str,
        first: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filters: dict[str, Any],
    ) -> None:
        self._codec = codec
        self._tenant_id = tenant_id
        self._list_name = list_name
        self._filters = filters
        self._scope: str | None = None
        # `first: null` is `first` not sent; the default applies only when `last` is not sent either.
        if first is not None and last is not None and not isinstance(first, DefaultSize):
            raise DomainError(
                ErrorCode.BAD_USER_INPUT,
                "first and last cannot be used together; page forward with first/after or back with last/before",
                field=["last"],
            )
        backward = last is not None
        size = (
            check_size(last, "last")
            if last is not None
            else check_size(DEFAULT_PAGE_SIZE if first is None else first, "first")
        )
        self.window = Window(
            size=size,
            after=self._key(after, "after"),
            before=self._key(before, "before"),
            backward=backward,
        )

    @property
    def first(self) -> int:
        """The page size, for lists that page forward only (they take no `last`)."""
        return self.window.size

    @property
    def after(self) -> tuple[Any, ...] | None:
        """The key to continue after, for lists that page forward only (they take no `before`)."""
        return self.window.after

    def _key(self, cursor: str | None, argument: str) -> tuple[Any, ...] | None:
        return tuple(self._codec.decode_scoped(cursor, self.scope, argument)) if cursor is not None else None

    @property
    def scope(self) -> str:
        """The list's scope hash, computed once for the page and all its cursors."""
        if self._scope is None:
            self._scope = self._codec.scope(self._tenant_id, self._list_name, self._filters)
        return self._scope

    def cursor(self, key: Sequence[Any]) -> str:
        return self._codec.encode_scoped(key, self.scope)

    def connection(
        self,
        page: Page[ModelT],
        *,
        key: Callable[[ModelT], Sequence[Any]],
        node: Callable[[ModelT], NodeT],
        count: Counter | None = None,
    ) -> Connection[NodeT]:
        """Shape a page fetched for this request; ``count`` counts the list when the page's own
        COUNT statement would not do (lists batched for many parents)."""
        return build_connection(page, key=key, node=node, cursor=self.cursor, counter=count)
