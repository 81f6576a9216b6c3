"""Resolving any object by its global id (`node`, `nodes`), for every registered type."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from app.graphql.relay import parse_global_id

NodeResolver = Callable[[Any, uuid.UUID], Awaitable[Any]]
_RESOLVERS: dict[str, NodeResolver] = {}


def node_type(type_name: str) -> Callable[[NodeResolver], NodeResolver]:
    """Register how to fetch (and permission-check) objects of ``type_name`` by key."""

    def register(resolver: NodeResolver) -> NodeResolver:
        _RESOLVERS[type_name] = resolver
        return resolver

    return register


async def resolve_node(info: Any, global_id: str) -> Any:
    """The object behind a global id if the viewer may see it, else None."""
    parsed = parse_global_id(global_id)
    if parsed is None or parsed[0] not in _RESOLVERS:
        return None
    type_name, key = parsed
    return await _RESOLVERS[type_name](info, key)


async def node_by_key(info: Any, type_name: str, key: uuid.UUID) -> Any:
    """The object of a registered type by key, as `node` would give it (None if not visible):
    lets a type link to one whose module it cannot import."""
    return await _RESOLVERS[type_name](info, key)
