"""Characters no stored or forwarded text may hold.

PostgreSQL refuses NUL in text and JSON, and a lone surrogate (legal in a JSON escape, and so
in a Python ``str``) cannot be encoded as UTF-8 at all: both would fail deep inside a write or
a query. Input is checked for them at the edge instead (app/graphql/input_checks.py, the
credentials), and refused with the field named.
"""

from __future__ import annotations

import re

# A JSON decoder joins a valid surrogate pair into one code point, so any surrogate left in a
# ``str`` is a lone one.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def forbidden_character(value: str) -> str | None:
    """What is wrong with ``value``, or None when it holds neither NUL nor a lone surrogate."""
    found = _FORBIDDEN.search(value)
    if found is None:
        return None
    return "must not contain NUL characters" if found.group() == "\x00" else "must not contain lone surrogates"
