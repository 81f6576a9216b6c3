# syntax=docker/dockerfile:1
#
# Journeys: the GraphQL API, served by `journeys serve` (migrates to head, then uvicorn).
#
#   docker build -t journeys .
#   docker run -p 8000:8000 \
#     -e JOURNEYS_JWT_SECRET="$(openssl rand -hex 32)" \
#     -e DATABASE_URL=postgresql://user:pass@db-host:5432/journeys \
#     journeys
#
# Without DATABASE_URL the embedded PostgreSQL runs from /var/lib/journeys (mount a volume
# there to keep its data). The image defaults to JOURNEYS_ENV=production: a JWT secret of
# at least the minimum length is required and GraphiQL/introspection are off.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JOURNEYS_ENV=production \
    JOURNEYS_DATA_DIR=/var/lib/journeys

# An unprivileged user; it owns only the data directory, never the code.
RUN groupadd --system --gid 10001 journeys \
    && useradd --system --uid 10001 --gid journeys --no-create-home \
        --home-dir /var/lib/journeys --shell /usr/sbin/nologin journeys \
    && mkdir -p /var/lib/journeys \
    && chown journeys:journeys /var/lib/journeys \
    && chmod 0700 /var/lib/journeys

# The app finds alembic.ini, migrations/ and schema.graphql next to its `app` package
# (app/migrate.py: ROOT = parent of the package), so the source tree stays here and the
# project is installed editable from it.
WORKDIR /srv/journeys

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -e . \
    && python -c "import app.migrate as m; assert (m.ROOT / 'alembic.ini').is_file() and (m.ROOT / 'migrations').is_dir(), m.ROOT" \
    && journeys --help > /dev/null

USER journeys:journeys

EXPOSE 8000
VOLUME ["/var/lib/journeys"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["journeys", "serve", "--host", "0.0.0.0"]
