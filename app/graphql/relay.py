"""Relay conventions: global ids, signed keyset cursors, and the one Connection type."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar

import strawberry

from app.errors import DomainError, ErrorCode
from app.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page

NodeT = TypeVar("NodeT")
ModelT = TypeVar("ModelT")


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID = strawberry.field(description="The object's opaque global id.")


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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


def check_first(first: int) -> int:
    """Page sizes are 1..100."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise bad_input(f"first must be between 1 and {MAX_PAGE_SIZE}", "first")
    return first


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

    def decode_scoped(self, cursor: str, scope: str) -> list[Any]:
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
            raise bad_input("after is not a valid cursor for this list", "after") from None


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

    @strawberry.field(description="An opaque position; pass it as `after` to continue after this item.")
    def cursor(self) -> str:
        if self.made is None:
            self.made = self.make_cursor()
        return self.made


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items precede this page (true when the page was asked for `after` a cursor)."
    )
    # Cursors are signed, so these too are made only when a client asks for them.
    first_edge: strawberry.Private[Edge[Any] | None]
    last_edge: strawberry.Private[Edge[Any] | None]

    @strawberry.field(description="The cursor of the first item, if any.")
    def start_cursor(self) -> str | None:
        return self.first_edge.cursor() if self.first_edge is not None else None

    @strawberry.field(description="The cursor of the last item, if any; pass it as `after` for the next page.")
    def end_cursor(self) -> str | None:
        return self.last_edge.cursor() if self.last_edge is not None else None


@strawberry.type(description="A page of a list, paged forward with `first` and `after`.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")

    @strawberry.field(description="The items of this page without their cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


def build_connection(
    page: Page[ModelT],
    *,
    key: Callable[[ModelT], Sequence[Any]],
    node: Callable[[ModelT], NodeT],
    cursor: Callable[[Sequence[Any]], str],
    after_given: bool,
) -> Connection[NodeT]:
    """Shape a page of models as a connection of nodes."""
    edges = [Edge(node=node(item), make_cursor=partial(cursor, key(item))) for item in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=after_given,
            first_edge=edges[0] if edges else None,
            last_edge=edges[-1] if edges else None,
        ),
    )


__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE"]


class PageRequest:
    """A validated `first`/`after` for one list of one tenant, and how to make its cursors."""

    def __init__(
        self,
        codec: CursorCodec,
        *,
        tenant_id: uuid.UUID,
        list_name: str,
        first: int,
        after: str | None,
        filters: dict[str, Any],
    ) -> None:
        self.first = check_first(first)
        self._codec = codec
        self._tenant_id = tenant_id
        self._list_name = list_name
        self._filters = filters
        self._scope: str | None = None
        self.after_given = after is not None
        self.after = codec.decode_scoped(after, self.scope) if after is not None else None

    @property
    def scope(self) -> str:
        """The list's scope hash, computed once for the page and all its cursors."""
        if self._scope is None:
            self._scope = self._codec.scope(self._tenant_id, self._list_name, self._filters)
        return self._scope

    def cursor(self, key: Sequence[Any]) -> str:
        return self._codec.encode_scoped(key, self.scope)

    def connection(
        self, page: Page[ModelT], *, key: Callable[[ModelT], Sequence[Any]], node: Callable[[ModelT], NodeT]
    ) -> Connection[NodeT]:
        """Shape a page fetched for this request."""
        return build_connection(page, key=key, node=node, cursor=self.cursor, after_given=self.after_given)
