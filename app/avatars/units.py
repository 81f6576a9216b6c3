"""Services that call out between units of work.

A call to LiveKit never runs inside a database transaction (it may take seconds, and its
outcome must not depend on a commit that could still fail). Services that make one take a
:class:`UnitRunner` and commit a unit of work before the call and another after it: the
GraphQL layer passes one running each unit on the operation's session gate, background code
:func:`in_transactions`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionFactory

T = TypeVar("T")


class UnitRunner(Protocol):
    """Runs one unit of work in its own transaction, committed when it returns."""

    def __call__(self, work: Callable[[AsyncSession], Awaitable[T]], /) -> Awaitable[T]: ...


def in_transactions(
    factory: SessionFactory, *, after_commit: Callable[[AsyncSession], None] | None = None
) -> UnitRunner:
    """A runner giving each unit of work a fresh session and transaction; ``after_commit``
    sees the session once it committed (to announce its events)."""

    async def run(work: Callable[[AsyncSession], Awaitable[T]], /) -> T:
        async with factory() as session:
            try:
                result = await work(session)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            if after_commit is not None:
                after_commit(session)
            return result

    return run
