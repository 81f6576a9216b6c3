"""GraphiQL at ``GET /graphql``, served from this package alone, with no CDN and no network.

The bundle (GraphiQL, its explorer plugin, React, Monaco and Monaco's web workers) is built from
the npm packages pinned in graphiql/package-lock.json by scripts/build_graphiql.sh into
app/static/graphiql/, and committed, so installing the service needs no node. Its files carry
content hashes in their names: they are served at ``/graphiql-assets/`` with year-long cache
lifetimes, while the page itself is never cached and names the current ones (from the manifest).

The page carries no inline script and loads nothing but this origin; its Content-Security-Policy
says so: scripts, workers, styles and fonts from 'self' (plus inline styles, which Monaco and
GraphiQL set, and the data: fonts GraphiQL's stylesheet embeds), and connections to 'self' and
this host's websocket (subscriptions over graphql-transport-ws on the same endpoint).
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "graphiql"
ASSETS_DIR = STATIC_DIR / "assets"
ASSETS_PATH = "/graphiql-assets"
ENTRY = "src/main.jsx"  # the bundle's entry in the manifest (graphiql/vite.config.js)
IMMUTABLE = "public, max-age=31536000, immutable"
# A host (and port) as it may stand in a CSP source; anything else is left out of the policy.
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")

_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Journeys GraphiQL</title>
    <link rel="icon" href="data:,">
{tags}
  </head>
  <body>
    <div id="graphiql">Loading…</div>
  </body>
</html>
"""


@functools.cache
def _page() -> str:
    """The page, naming the entry script and the stylesheets of the built bundle."""
    manifest = json.loads((STATIC_DIR / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest[ENTRY]
    styles: list[str] = []
    preloads: list[str] = []
    seen: set[str] = set()

    def visit(key: str) -> None:  # a chunk's stylesheets, then those of the chunks it imports
        if key in seen:
            return
        seen.add(key)
        chunk = manifest[key]
        styles.extend(chunk.get("css", ()))
        for imported in chunk.get("imports", ()):
            preloads.append(manifest[imported]["file"])
            visit(imported)

    visit(ENTRY)
    tags = [f'<link rel="stylesheet" href="{_asset(name)}">' for name in dict.fromkeys(styles)]
    tags += [f'<link rel="modulepreload" href="{_asset(name)}">' for name in dict.fromkeys(preloads)]
    tags.append(f'<script type="module" src="{_asset(entry["file"])}"></script>')
    return _PAGE.format(tags="\n".join(f"    {tag}" for tag in tags))


def _asset(name: str) -> str:
    return html.escape(f"{ASSETS_PATH}/{name}", quote=True)


def content_security_policy(host: str | None) -> str:
    """Only this origin: 'self', and its websocket for subscriptions."""
    sockets = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "worker-src 'self'",
            f"connect-src 'self'{sockets}",
            "style-src 'self' 'unsafe-inline'",
            "font-src 'self' data:",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def graphiql_page(request: Request) -> Response:
    """The GraphiQL page (JourneysGraphQL.render_graphql_ide)."""
    try:
        page = _page()
    except (OSError, KeyError, ValueError):
        return PlainTextResponse("The GraphiQL bundle is missing: run scripts/build_graphiql.sh", status_code=500)
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": content_security_policy(request.headers.get("host")),
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


class _HashedAssets(StaticFiles):
    """The bundle's files: their names change with their content, so they are cached for good."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = IMMUTABLE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def graphiql_assets_route() -> Mount:
    """The route serving the bundle's files at ``/graphiql-assets/`` (app/main.py)."""
    return Mount(ASSETS_PATH, app=_HashedAssets(directory=ASSETS_DIR, check_dir=False), name="graphiql-assets")
