#!/usr/bin/env bash
# Rebuilds the GraphiQL bundle that the service serves at /graphql (app/graphql/ide.py) from the npm
# packages pinned in graphiql/package-lock.json, into app/static/graphiql/. The output is committed,
# so installing the service needs no node: run this after changing graphiql/ and commit the result.
set -euo pipefail
cd "$(dirname "$0")/../graphiql"

npm ci --no-audit --no-fund --loglevel=error
npx vite build --logLevel warn

# The manifest and the licenses of the bundled packages go beside the served folder, not in it.
out=../app/static/graphiql
mv "$out/assets/manifest.json" "$out/manifest.json"
mv "$out/assets/licenses.md" "$out/licenses.md"
echo "built $(find "$out/assets" -type f | wc -l) files, $(du -sh "$out/assets" | cut -f1), into app/static/graphiql/"
