"""The request's session gate: one connection per operation, reads without transactions, writes
in one, and one retry of the first statement when a pooled connection turned out dead.

See the policy in :mod:`app.db`. How the gate uses its connection:

- it checks one connection out of the pool on first use and keeps it until :meth:`SessionGate.close`
  (one checkout per operation, however many reads and writes it does);
- reads run with ``isolation_level=AUTOCOMMIT``: asyncpg then sends no BEGIN and no ROLLBACK, each
  statement is its own snapshot — what READ COMMITTED gives a multi-statement transaction anyway;
- a write switches the connection back to the engine's isolation level for one real transaction
  (BEGIN with its first statement, COMMIT at the end), then reads continue in autocommit;
- the pool does not ping: a connection whose socket the server closed is replaced on checkout
  (no round trip, :func:`app.db.create_engine`), and if the first statement on a checked-out
  connection still fails with a disconnect, it is retried once on a fresh connection. Only the
  first: nothing has happened on that connection yet, so retrying cannot repeat or lose anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger("app.db")

AUTOCOMMIT = "AUTOCOMMIT"
# session.info keys: how to reconnect while the first statement is unproven; reads-only mode.
RETRY = "gate.retry"
READING = "gate.reading"
DISCARD = "gate.discard"  # the connection is not to go back to the pool


def disconnected(exc: BaseException) -> bool:
    """Whether a statement failed because its connection is gone (not because of the statement)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause: BaseException | None = exc
    for _ in range(5):
        if cause is None:
            return False
        if isinstance(cause, asyncpg.ConnectionDoesNotExistError):
            return True
        if isinstance(cause, asyncpg.InterfaceError) and "connection is closed" in str(cause):
            return True
        cause = getattr(cause, "orig", None) or cause.__cause__
    return False


class RetryingSession(Session):
    """A Session whose first statement on a fresh connection is retried once after a disconnect.

    ``execute`` and ``scalar`` are the two entry points every query takes (``get``, ``scalars``
    and lazy loads go through ``execute``); flushes are never retried (nothing pending may be
    lost): a flush disarms the retry."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._first(super().execute, args, kwargs)

    def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self._first(super().scalar, args, kwargs)

    def _first(self, run: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return run(*args, **kwargs)
        except DBAPIError as exc:
            # Armed until the first statement on the connection is done, and disarmed by any
            # flush: a retry after a flush would roll the flushed rows back.
            reconnect = self.info.pop(RETRY, None)
            if reconnect is None or not disconnected(exc):
                raise
            log.info("a pooled connection was dead; retrying the first statement on a fresh one")
            self.rollback()  # ends the invalidated transaction, so the connection may reconnect
            reconnect()
            return run(*args, **kwargs)
        finally:
            self.info.pop(RETRY, None)


def _reconnect_by_itself() -> None:
    """Engine-bound sessions check a fresh connection out on their next statement."""


@event.listens_for(RetryingSession, "after_begin")
def _arm_retry(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    # An engine-bound session checks a connection out for each transaction; the gate's session
    # keeps one connection, so the gate arms its retry itself, once per checkout.
    # Begun by a flush (pending changes), the transaction is not retried.
    if not isinstance(session.bind, Connection) and not (session.new or session.dirty or session.deleted):
        session.info[RETRY] = _reconnect_by_itself


@event.listens_for(RetryingSession, "before_flush")
def _no_flush_while_reading(session: Session, *_args: Any) -> None:
    session.info.pop(RETRY, None)
    # Reads autocommit statement by statement: a flush there would not be one unit of work.
    if session.info.get(READING):
        raise RuntimeError("changes are written through SessionGate.write(), never while reading")


@asynccontextmanager
async def committing(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """The block as one unit of work: committed when it succeeds, rolled back on any exception."""
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


class SessionGate:
    """The request's single session, handed to one user at a time (see :mod:`app.db`)."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        on_commit: Callable[[AsyncSession], None] | None = None,
    ) -> None:
        self._factory = factory
        self._engine: AsyncEngine = factory.kw["bind"]
        self._connection: AsyncConnection | None = None
        self._session: AsyncSession | None = None
        self._autocommit: bool | None = None  # the connection's mode; None until set
        self._lock = asyncio.Lock()
        self._on_commit = on_commit

    async def _use(self, *, autocommit: bool) -> AsyncSession:
        """The session on the gate's connection, in the mode asked for (no IO unless it connects)."""
        if self._session is None:
            self._connection = await self._engine.connect()
            self._session = self._factory(bind=self._connection)
            self._session.info[RETRY] = self._reconnect
        session = self._session
        assert self._connection is not None
        if self._connection.invalidated:
            self._autocommit = None  # it reconnects in the engine's mode: set the gate's again
        if self._autocommit is not autocommit:
            if session.in_transaction():
                await session.rollback()  # in autocommit, a transaction of SQLAlchemy's only
            await self._connection.execution_options(isolation_level=self._level(autocommit))
            self._autocommit = autocommit
        session.info[READING] = autocommit
        return session

    def _level(self, autocommit: bool) -> str:
        if autocommit:
            return AUTOCOMMIT
        return str(self._sync().default_isolation_level)

    def _sync(self) -> Connection:
        assert self._connection is not None and self._connection.sync_connection is not None
        return self._connection.sync_connection

    def _reconnect(self) -> None:
        """Run by the session (in its greenlet) after a disconnect: a fresh DBAPI connection in the gate's mode."""
        self._sync().execution_options(isolation_level=self._level(bool(self._autocommit)))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Exclusive use of the session for reading (autocommit: no transaction)."""
        async with self._lock:
            yield await self._use(autocommit=True)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """Exclusive use of the session for one unit of work, committed as a whole."""
        async with self._lock:
            session = await self._use(autocommit=False)
            async with committing(session):
                yield session
            if self._on_commit is not None:
                self._on_commit(session)

    async def close(self) -> None:
        """Return the connection to the pool, once nobody is using the session any more.

        graphql-core cancels the sibling fields of a field whose error nulls their parent;
        a sibling cancelled in the middle of a statement can leave the session unable to
        close cleanly, so such a session's connection is discarded instead (the pool opens
        a fresh one): the failure is the server's to absorb, never the client's to see.
        """
        async with self._lock:
            session, connection = self._session, self._connection
            self._session = self._connection = None
            self._autocommit = None
            if session is None or connection is None:
                return
            try:
                if session.info.get(DISCARD):  # a read cancelled halfway (app/core_rows.py)
                    await connection.invalidate()
                await session.close()
                await connection.close()
            except Exception:
                log.info("discarding a session that could not close cleanly", exc_info=True)
                with suppress(Exception):
                    await connection.invalidate()
                with suppress(Exception):
                    await connection.close()
