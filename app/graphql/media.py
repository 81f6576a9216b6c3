"""GraphQL over HTTP's own media type, ``application/graphql-response+json`` (SPEC §18).

A client that asks for it (``Accept``, ranked at least as high as ``application/json``) gets
its response in that type, with the spec's status codes: a request error — the document does
not parse or validate, a variable does not coerce, a limit refuses it, so nothing executed —
is HTTP 400 and has no ``data`` entry. A response whose data is present, or null because a
field's error reached the root, stays 200 (or 503 when the database is unreachable).
``application/json`` stays the default, with the status codes it always had.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _quality(accept: str, media: str) -> float:
    best = -1.0
    for part in accept.split(","):
        kind, _, parameters = part.strip().partition(";")
        if kind.strip().lower() != media:
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best = max(best, quality)
    return best


def wants_graphql_response(accept: str | None) -> bool:
    """Whether ``accept`` asks for application/graphql-response+json over application/json."""
    if not accept or GRAPHQL_RESPONSE not in accept.lower():
        return False
    ours = _quality(accept, GRAPHQL_RESPONSE)
    return ours > 0 and ours >= _quality(accept, JSON)


def _request_error(body: Any) -> bool:
    """No data and only errors without a path: nothing executed."""
    if not isinstance(body, dict) or body.get("data") is not None or not body.get("errors"):
        return False
    return all(isinstance(e, dict) and not e.get("path") for e in body["errors"])


def as_graphql_response(response: Response) -> Response:
    """``response`` in application/graphql-response+json, with the spec's status codes."""
    if response.media_type != JSON and not (response.headers.get("content-type") or "").startswith(JSON):
        return response  # GraphiQL's page, say
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return response
    status = response.status_code
    if status == 200 and _request_error(body):
        status = 400
    if status == 400 and isinstance(body, dict):
        body.pop("data", None)
    headers = {k: v for k, v in response.headers.items() if k.lower() not in {"content-length", "content-type"}}
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=GRAPHQL_RESPONSE)
