"""The executor Strawberry is given: graphql-core's, with queries run through their plans.

``CompiledExecutor`` is graphql-core's Executor (variable coercion, resolve infos, error
collection and the response are its own) whose ``execute_operation`` runs a query through
its plan (app/graphql/execution/plan.py), breadth first (app/graphql/execution/waves.py),
instead of re-collecting and re-dispatching every field of every object. What the plan does
not cover — mutations, subscriptions, introspection, ``@defer``/``@stream``, field middleware —
runs through graphql-core unchanged.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from graphql.execution.executor import Executor

from app.graphql.execution.plan import Compiler, ObjectPlan, Unsupported, directive_variables, supported
from app.graphql.execution.waves import WaveRun


@dataclass
class _OperationPlans:
    directive_variables: tuple[str, ...] = ()
    unsupported: bool = False
    compiled: dict[tuple[str, ...], tuple[Compiler, ObjectPlan]] = field(default_factory=dict)


# Plans by operation node; an entry goes when its document does (documents are cached by
# app/graphql/documents.py, so plans live as long as their document's cache entry).
_PLANS: dict[int, _OperationPlans] = {}


def _plans(executor: Executor[Any]) -> tuple[Compiler, ObjectPlan] | None:
    operation = executor.operation
    entry = _PLANS.get(id(operation))
    if entry is None:
        entry = _OperationPlans()
        try:
            entry.directive_variables = directive_variables(operation, executor.fragments)
        except Unsupported:
            entry.unsupported = True
        _PLANS[id(operation)] = entry
        weakref.finalize(operation, _PLANS.pop, id(operation), None)
    if entry.unsupported:
        return None
    coerced = executor.variable_values.coerced
    signature = tuple(repr(coerced.get(name)) for name in entry.directive_variables)
    compiled = entry.compiled.get(signature)
    if compiled is None:
        compiler = Compiler(executor)
        try:
            compiled = (compiler, compiler.root())
        except Unsupported:
            entry.unsupported = True
            return None
        entry.compiled[signature] = compiled
    return compiled


def _uses_middleware(executor: Executor[Any]) -> bool:
    manager = executor.middleware_manager
    return manager is not None and bool(getattr(manager, "_middleware_resolvers", None))


class CompiledExecutor(Executor[Any]):
    """graphql-core's executor, running queries through their plans (module docstring)."""

    def __init__(self, *args: Any, operation_extensions: Any = None, **kwargs: Any) -> None:
        # Strawberry hands a custom executor class the request's `extensions` too.
        super().__init__(*args, **kwargs)
        self.operation_extensions = operation_extensions

    def execute_operation(self, serially: bool | None = None) -> Any:
        if not supported(self.operation) or self.abort_signal is not None or _uses_middleware(self):
            return super().execute_operation(serially)
        compiled = _plans(self)
        if compiled is None:
            return super().execute_operation(serially)
        compiler, plan = compiled
        return WaveRun(self, compiler).operation(plan)
