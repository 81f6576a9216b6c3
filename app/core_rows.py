"""Core reads on the request's asyncpg connection itself, without SQLAlchemy's execution layer.

The read path's statements are Core ``select()``s built once (app/catalog/reads.py,
app/versions/reads.py, app/progress/). Run through ``AsyncSession.execute`` each pays for
SQLAlchemy's greenlet hop, compiled-cache lookup, execution context, cursor adapter and
``Row`` building — measured on the catalogue page at 360 µs against asyncpg's 124 µs for a
20-row select, most of the ORM-free read path's database cost. :func:`fetch_rows` compiles a
statement once (SQLAlchemy's own compiler, so the SQL is byte for byte what the session would
send), keeps its bind and result processors, and then runs it with ``asyncpg.Connection.fetch``
on the gate's connection, returning named tuples with the statement's column names.

It takes that shortcut only where it changes nothing:

- the session is the gate's, reading (autocommit, so no transaction is bypassed: the adapter has
  none open); inside a write, outside the gate, or for a statement whose SQL depends on its
  parameters (expanding ``IN``), it is ``session.execute`` as before;
- the engine's ``before_cursor_execute`` / ``after_cursor_execute`` listeners (tracing's spans,
  the tests' statement counter) still see every statement;
- a statement cancelled halfway has its connection discarded by the gate; any other
  failure is left to ``session.execute`` to run again and report in its own terms: a
  disconnect on the first statement of a checkout is then retried once on a fresh connection by
  :class:`app.gate.RetryingSession`, and an error in the statement is raised as SQLAlchemy raises it.
"""

from __future__ import annotations

import keyword
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ARRAY, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from app.gate import DISCARD, READING, RETRY

Processor = Callable[[Any], Any]


class _Prepared:
    """A statement compiled for asyncpg: its SQL, how to build its arguments and its rows."""

    __slots__ = ("arguments", "processors", "row", "sql")

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise _Ineligible
        names = list(statement.selected_columns.keys())
        if len(set(names)) != len(names) or not all(_attribute_name(n) for n in names):
            raise _Ineligible
        self.sql: str = compiled.string
        processors: Mapping[str, Processor] = compiled._bind_processors  # type: ignore[assignment]
        arguments: list[tuple[str | None, Any, Processor | None]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            process = processors.get(name)
            if bind.required or bind.callable is not None:
                arguments.append((bind.key, None, process))
            else:
                value = bind.effective_value
                arguments.append((None, process(value) if process and value is not None else value, None))
        self.arguments = arguments
        self.processors = [
            (index, convert)
            for index, column in enumerate(statement.selected_columns)
            if (convert := _result_processor(column.type, dialect)) is not None
        ]
        self.row = namedtuple("Row", names)  # type: ignore[misc]

    def bind(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for key, constant, process in self.arguments:
            if key is None:
                out.append(constant)
            else:
                value = params[key]
                out.append(process(value) if process is not None and value is not None else value)
        return out

    def rows(self, records: list[Any]) -> list[Any]:
        make = tuple.__new__
        row = self.row
        processors = self.processors
        if not processors:
            return [make(row, record) for record in records]
        out = []
        for record in records:
            values = list(record)
            for index, process in processors:
                values[index] = process(values[index])
            out.append(make(row, values))
        return out


class _Ineligible(Exception):
    """The statement is left to ``session.execute`` (see the module docstring)."""


# By id() of statements built once for the process; each kept with its entry, so that its id
# is never reused by another statement.
_PREPARED: dict[int, tuple[Select[Any], _Prepared | None]] = {}


def _attribute_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


def _result_processor(type_: Any, dialect: Dialect) -> Processor | None:
    impl = type_.dialect_impl(dialect)
    if isinstance(impl, ARRAY) and impl.item_type.dialect_impl(dialect).result_processor(dialect, None) is None:
        return None  # asyncpg's list is what the processor would copy item by item
    try:
        process: Processor | None = impl.result_processor(dialect, None)
    except Exception as exc:  # a processor that depends on the cursor's type codes (numerics)
        raise _Ineligible from exc
    return process


def _prepared(statement: Select[Any], dialect: Dialect) -> _Prepared | None:
    entry = _PREPARED.get(id(statement))
    if entry is not None:
        return entry[1]
    try:
        prepared: _Prepared | None = _Prepared(statement, dialect)
    except _Ineligible:
        prepared = None
    _PREPARED[id(statement)] = (statement, prepared)
    return prepared


def _driver(session: AsyncSession) -> tuple[Any, Any] | None:
    """(the sync Connection, the asyncpg connection) when the shortcut may be taken."""
    if not session.info.get(READING):
        return None
    bind = session.bind
    sync = getattr(bind, "sync_connection", None)
    if sync is None or sync.invalidated or sync.closed:
        return None
    fairy = sync._dbapi_connection
    adapted = getattr(fairy, "dbapi_connection", None)
    if adapted is None or not getattr(adapted, "autocommit", False) or adapted._transaction is not None:
        return None
    return sync, adapted._connection


async def fetch_rows(session: AsyncSession, statement: Select[Any], params: Mapping[str, Any]) -> list[Any]:
    """The statement's rows (named tuples; see the module docstring). ``statement`` must be built
    once for the process (a module constant or a cached shape): it is compiled once by identity."""
    driver = _driver(session)
    prepared = _prepared(statement, driver[0].dialect) if driver is not None else None
    if driver is None or prepared is None:
        return list(await session.execute(statement, dict(params)))
    sync, connection = driver
    arguments = prepared.bind(params)
    listened = sync._has_events or sync.engine._has_events
    context = _Context() if listened else None
    if listened:
        sync.dispatch.before_cursor_execute(sync, None, prepared.sql, arguments, context, False)
    try:
        records = await connection.fetch(prepared.sql, *arguments)
    except Exception:
        failed = True
    except BaseException:
        # Cancelled mid-statement (a sibling field's error, a client gone): asyncpg asks the
        # server to cancel it, and the gate discards the connection rather than pool it.
        session.info[DISCARD] = True
        raise
    else:
        failed = False
        session.info.pop(RETRY, None)  # the checkout's first statement is done: no retry after this
    finally:
        if listened:  # (a span started for the statement ends either way)
            sync.dispatch.after_cursor_execute(sync, None, prepared.sql, arguments, context, False)
    if failed:
        # Run again through SQLAlchemy: its retry of a dead connection, and its own errors.
        return list(await session.execute(statement, dict(params)))
    return prepared.rows(records)


class _Context:
    """What the cursor listeners get as the execution context (tracing keeps its span on it)."""
