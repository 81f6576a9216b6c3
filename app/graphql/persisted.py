"""Automatic persisted queries (Apollo's APQ, SPEC §18) and the persisted-only mode.

A request may carry ``extensions.persistedQuery = {version: 1, sha256Hash}``:
- with no ``query``: the query registered under that hash runs; an unknown hash answers the
  error ``PersistedQueryNotFound`` (code ``PERSISTED_QUERY_NOT_FOUND``), and the client retries
  with the query, which registers it;
- with a ``query``: its SHA-256 must be the hash (else ``BAD_USER_INPUT``); it is registered.
Registered queries are kept per process, bounded by bytes (least recently used first out):
a worker that has not seen a hash asks the client for the query once.

With ``JOURNEYS_PERSISTED_ONLY=1`` only queries registered from the manifest
(``JOURNEYS_PERSISTED_QUERIES``: a JSON object ``{sha256: query}`` or Apollo's persisted-query
manifest ``{"operations": [{"id", "body"}]}``) run; any other document, by hash or by text,
is refused with ``PERSISTED_QUERY_NOT_FOUND``, and clients cannot register new ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from graphql import GraphQLError

NOT_FOUND = "PersistedQueryNotFound"
_HASH = re.compile(r"[0-9a-f]{64}")


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def _error(message: str, code: str, status: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, "status": status})


class PersistedQueries:
    """Queries by the SHA-256 of their text."""

    def __init__(self, *, only: bool = False, manifest: dict[str, str] | None = None, max_bytes: int = 8 << 20) -> None:
        self.only = only
        self.max_bytes = max_bytes
        self.bytes = 0
        self._fixed = dict(manifest or {})
        self._learned: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_file(cls, path: Path | None, *, only: bool) -> PersistedQueries:
        """The registry with the manifest at ``path`` (if any) loaded."""
        manifest: dict[str, str] = {}
        if path is not None:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and isinstance(data.get("operations"), list):
                manifest = {op["id"]: op["body"] for op in data["operations"]}
            elif isinstance(data, dict):
                manifest = {str(k): str(v) for k, v in data.items()}
            for key, body in manifest.items():
                if sha256(body) != key:
                    raise ValueError(f"the persisted query {key} does not hash to its id")
        return cls(only=only, manifest=manifest)

    def get(self, key: str) -> str | None:
        query = self._fixed.get(key)
        if query is None and not self.only:
            query = self._learned.get(key)
            if query is not None:
                self._learned.move_to_end(key)
        return query

    def learn(self, key: str, query: str) -> None:
        if self.only or key in self._fixed or key in self._learned or len(query) > self.max_bytes:
            return
        self._learned[key] = query
        self.bytes += len(query)
        while self.bytes > self.max_bytes:
            _, gone = self._learned.popitem(last=False)
            self.bytes -= len(gone)

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The query text to run; a GraphQLError (raised) when the request cannot run."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.only and (query is None or sha256(query) not in self._fixed):
                raise _error("Only persisted queries are accepted", "PERSISTED_QUERY_NOT_FOUND", 400)
            return query
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise _error("persistedQuery must be {version: 1, sha256Hash}", "BAD_USER_INPUT", 400)
        key = persisted.get("sha256Hash")
        if not isinstance(key, str) or not _HASH.fullmatch(key):
            raise _error("persistedQuery.sha256Hash must be 64 lowercase hex digits", "BAD_USER_INPUT", 400)
        if query is None:
            known = self.get(key)
            if known is None:
                raise _error(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND", 400)
            return known
        if sha256(query) != key:
            raise _error("provided sha does not match query", "BAD_USER_INPUT", 400)
        if self.only and key not in self._fixed:
            raise _error("Only persisted queries are accepted", "PERSISTED_QUERY_NOT_FOUND", 400)
        self.learn(key, query)
        return query
