"""A plan run breadth first: every value that has to be awaited, at whatever depth, awaited
together with the others of its wave, and written into its place in the response.

Depth first (:class:`app.graphql.execution.run.Run`, as graphql-core does it) an object with
a pending field becomes a coroutine that waits for it, its parent another that waits for that,
and a list of such objects a task per item: on the catalogue page, 20 journeys whose events
come from one dataloader batch cost 20 tasks and some 100 coroutine frames a request. Here the
objects and lists are built at once, with a placeholder where a value is pending; the pending
values (the resolvers' coroutines, dataloader futures) are gathered a wave at a time, and each
one's completion — which may leave more pending for the next wave — goes into its slot.

That is only the same response as graphql-core's while nothing fails: an error has to null
its nearest nullable ancestor, drop the errors under it and cancel its siblings, in the order
graphql-core would. So the first error of any kind abandons the breadth-first run and the
operation is run again depth first, which does all of that. A query changes nothing (the
plan runs queries only), its request's dataloaders keep what they already loaded, and most
responses have no error: the run again costs only the few operations that fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any

from graphql.pyutils import Path

from app.graphql.execution.plan import FieldPlan, ObjectPlan, Output
from app.graphql.execution.run import Run

# A pending value: (container, slot, output, field plan, awaitable, path, completed already)
_Pending = tuple[Any, Any, Output, FieldPlan, Awaitable[Any], Path, bool]


class _Abandon(BaseException):
    """Something failed: the operation is run again depth first (a BaseException, so that no
    field's own ``except Exception`` takes it for its error)."""


class WaveRun(Run):
    __slots__ = ("later",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.later: list[_Pending] = []

    def operation(self, plan: ObjectPlan) -> Any:
        try:
            data = self.object(plan, self.executor.root_value, None)
        except _Abandon:
            self._discard()
            return Run(self.executor, self.compiler).operation(plan)
        if not self.later:
            return self.executor.build_response(data)
        return self._waves(plan, data)

    async def _waves(self, plan: ObjectPlan, data: Any) -> Any:
        try:
            while self.later:
                batch, self.later = self.later, []
                if len(batch) == 1:
                    values: list[Any] = [await batch[0][4]]
                else:
                    values = await asyncio.gather(*(entry[4] for entry in batch), return_exceptions=True)
                for (container, slot, output, fp, _, path, completed), value in zip(batch, values, strict=True):
                    if isinstance(value, BaseException):
                        raise _Abandon
                    container[slot] = value if completed else self.complete(output, fp, value, path)
        except (_Abandon, Exception):
            self._discard()
            result = Run(self.executor, self.compiler).operation(plan)
            return await result if self.is_awaitable(result) else result
        return self.executor.build_response(data)

    def defer(
        self,
        pending: list[tuple[Any, Awaitable[Any]]] | None,
        container: Any,
        slot: Any,
        output: Output,
        fp: FieldPlan,
        value: Awaitable[Any],
        path: Path,
        *,
        completed: bool,
    ) -> list[tuple[Any, Awaitable[Any]]] | None:
        self.later.append((container, slot, output, fp, value, path, completed))
        return pending  # (None: the object or list is complete but for its placeholders)

    def failed(self, output: Output, fp: FieldPlan, exc: Exception, path: Path) -> Any:
        raise _Abandon

    def _discard(self) -> None:
        """Close the coroutines that will not be awaited now (no "never awaited" warnings)."""
        for entry in self.later:
            awaitable = entry[4]
            if isinstance(awaitable, Coroutine):
                awaitable.close()
        self.later = []
