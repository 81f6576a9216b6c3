"""Running a plan (app/graphql/execution/plan.py) depth first, with graphql-core's semantics.

:class:`Run` completes a plan the way graphql-core does; app/graphql/execution/waves.py runs
it breadth first for the responses without errors and falls back to this one (what hands a
query to either is ``CompiledExecutor``, app/graphql/execution/executor.py). Field errors are
located and collected as graphql-core does (a nullable field turns null, a non-null one nulls
its nearest nullable ancestor, errors under an already nulled position are dropped), sibling
fields' awaitables are gathered concurrently and cancelled when an error bubbles past them,
and resolvers are called exactly as graphql-core calls them (with a resolve info, coerced
arguments and middleware) — or, for a Strawberry field whose function has nothing but
Strawberry's wrapper around it, that function called as the wrapper would call it
(plan.DirectCall). tests/test_execution_differential.py holds the plans to graphql-core's
responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any, cast

from graphql import GraphQLAbstractType, GraphQLError, GraphQLObjectType, located_error
from graphql.execution.executor import Executor, invalid_return_type_error
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, gather_with_cancel

from app.graphql.execution.plan import Compiler, DirectCall, FieldPlan, ObjectPlan, Output


class Run:
    __slots__ = ("compiler", "errors", "executor", "is_awaitable")

    def __init__(self, executor: Executor[Any], compiler: Compiler) -> None:
        self.executor = executor
        self.compiler = compiler
        self.errors = executor.collected_errors
        self.is_awaitable = executor.is_awaitable

    def operation(self, plan: ObjectPlan) -> Any:
        build = self.executor.build_response
        try:
            data = self.object(plan, self.executor.root_value, None)
        except GraphQLError as error:
            self.errors.add(error, None)
            return build(None)
        if not self.is_awaitable(data):
            return build(data)

        async def finish() -> Any:
            try:
                value = await data
            except GraphQLError as error:
                self.errors.add(error, None)
                return build(None)
            return build(value)

        return finish()

    # --- objects ------------------------------------------------------------------------

    def object(self, plan: ObjectPlan, source: Any, path: Path | None) -> Any:
        result: dict[str, Any] = {}
        pending: list[tuple[str, Awaitable[Any]]] | None = None
        parent = plan.type
        typename = parent.name
        is_awaitable = self.is_awaitable
        for fp in plan.fields:
            key = fp.key
            if fp.typename:
                result[key] = typename
                continue
            # A field's path is made only when something needs it: a resolve info, a value to
            # complete below it, or an error. Most fields are leaves read off their object.
            field_path = None
            try:
                if fp.attribute is not None:
                    value = getattr(source, fp.attribute)
                else:
                    direct = fp.direct
                    if direct is not None and direct.pathless:
                        value = direct.function(source) if direct.bare else self.call(fp, direct, source, None, parent)
                    else:
                        field_path = Path(path, key, typename)
                        value = self.resolve(fp, source, field_path, parent)
                    if is_awaitable(value):
                        result[key] = None  # keeps the response order; filled once awaited
                        field_path = field_path or Path(path, key, typename)
                        pending = self.defer(pending, result, key, fp.output, fp, value, field_path, completed=False)
                        continue
                leaf = fp.output.leaf
                if leaf is not None and value is not None and not isinstance(value, Exception):
                    result[key] = leaf(value)
                    continue
                field_path = field_path or Path(path, key, typename)
                completed = self.complete(fp.output, fp, value, field_path)
                if is_awaitable(completed):
                    result[key] = None
                    pending = self.defer(pending, result, key, fp.output, fp, completed, field_path, completed=True)
                    continue
                result[key] = completed
            except Exception as exc:
                result[key] = self.failed(fp.output, fp, exc, field_path or Path(path, key, typename))
        if pending is None:
            return result
        return _filled(result, pending)

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
        """A value to await into ``container[slot]``: here, among its object's (or list's)
        pending values, awaited (and ``completed`` unless it already is) by that object."""
        pending = pending or []
        awaited = self.guarded(output, fp, value, path) if completed else self.awaited(output, fp, value, path)
        pending.append((slot, awaited))
        return pending

    def resolve(self, fp: FieldPlan, source: Any, path: Path, parent: GraphQLObjectType) -> Any:
        executor = self.executor
        direct = fp.direct
        if direct is not None:
            return self.call(fp, direct, source, path, parent)
        arguments = fp.arguments
        if arguments is None:
            details = fp.details[0]
            arguments = get_argument_values(
                fp.definition,
                details.node,
                executor.variable_values,
                details.fragment_variable_values,
                executor.hide_suggestions,
            )
        info = executor.build_resolve_info(fp.definition, fp.nodes, parent, path)
        resolve = fp.definition.resolve or executor.field_resolver
        return resolve(source, info, **arguments)

    def call(self, fp: FieldPlan, direct: DirectCall, source: Any, path: Path | None, parent: GraphQLObjectType) -> Any:
        """The field's function called as Strawberry's wrapper calls it (strawberry.schema.
        schema_converter's get_arguments and get_result); ``path`` may be None when the call is
        ``pathless`` (it needs no resolve info)."""
        executor = self.executor
        info = None
        if not direct.pathless:
            assert path is not None
            raw = executor.build_resolve_info(fp.definition, fp.nodes, parent, path)
            info = direct.info_class(_raw_info=raw, _field=direct.field)
        if direct.arguments is not None:
            kwargs = dict(direct.arguments)
        else:
            arguments = fp.arguments
            if arguments is None:
                details = fp.details[0]
                arguments = get_argument_values(
                    fp.definition,
                    details.node,
                    executor.variable_values,
                    details.fragment_variable_values,
                    executor.hide_suggestions,
                )
            kwargs = direct.convert(arguments, info)
        for name in direct.source_names:
            kwargs[name] = source
        if direct.info_name is not None:
            kwargs[direct.info_name] = info
        if direct.pass_self:
            return direct.function(source, **kwargs)
        return direct.function(**kwargs)

    async def awaited(self, output: Output, fp: FieldPlan, value: Awaitable[Any], path: Path) -> Any:
        try:
            completed = self.complete(output, fp, await value, path)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as exc:
            return self.failed(output, fp, exc, path)
        return completed

    async def guarded(self, output: Output, fp: FieldPlan, completed: Awaitable[Any], path: Path) -> Any:
        try:
            return await completed
        except Exception as exc:
            return self.failed(output, fp, exc, path)

    def failed(self, output: Output, fp: FieldPlan, exc: Exception, path: Path) -> Any:
        """A field's or list item's error: raised on when it is non-null, else collected (null)."""
        error = located_error(exc, fp.nodes, path.as_list())
        if output.non_null:
            raise error
        self.errors.add(error, path)
        return None

    # --- completion ----------------------------------------------------------------------

    def complete(self, output: Output, fp: FieldPlan, value: Any, path: Path) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None:
            if output.non_null:
                raise TypeError(f"Cannot return null for non-nullable field {fp.parent}.{fp.name}.")
            return None
        kind = output.kind
        if kind == "leaf":
            return output.leaf(value)  # type: ignore[misc]
        if kind == "object":
            return self.object_value(output, output.object_type, value, path)  # type: ignore[arg-type]
        if kind == "list":
            return self.list_value(output, fp, value, path)
        return self.abstract(output, fp, value, path)

    def object_value(self, output: Output, runtime: GraphQLObjectType, value: Any, path: Path) -> Any:
        is_type_of = runtime.is_type_of
        if is_type_of is not None and not is_type_of(value, None):  # type: ignore[arg-type]
            raise invalid_return_type_error(runtime, value, output.details)
        return self.object(self.compiler.object_plan(output, runtime), value, path)

    def abstract(self, output: Output, fp: FieldPlan, value: Any, path: Path) -> Any:
        executor = self.executor
        info = executor.build_resolve_info(fp.definition, fp.nodes, fp.parent_type, path)
        abstract = cast(GraphQLAbstractType, output.type)
        resolve_type = abstract.resolve_type or executor.type_resolver
        runtime = resolve_type(value, info, abstract)

        def complete_as(name: Any) -> Any:
            object_type = executor.ensure_valid_runtime_type(name, abstract, output.details, info, value)
            return self.object_value(output, object_type, value, path)

        if not self.is_awaitable(runtime):
            return complete_as(runtime)

        async def later() -> Any:
            completed = complete_as(await runtime)
            return await completed if self.is_awaitable(completed) else completed

        return later()

    def list_value(self, output: Output, fp: FieldPlan, value: Any, path: Path) -> Any:
        if not isinstance(value, Iterable) or isinstance(value, (str, bytes, dict)):
            raise GraphQLError(f"Expected Iterable, but did not find one for field '{fp.parent}.{fp.name}'.")
        item_output: Output = output.item  # type: ignore[assignment]
        results: list[Any] = []
        pending: list[tuple[int, Awaitable[Any]]] | None = None
        is_awaitable = self.is_awaitable
        leaf = item_output.leaf
        for index, item in enumerate(value):
            if leaf is not None and item is not None and not isinstance(item, Exception) and not is_awaitable(item):
                try:
                    results.append(leaf(item))
                    continue
                except Exception as exc:
                    results.append(self.failed(item_output, fp, exc, Path(path, index, None)))
                    continue
            item_path = Path(path, index, None)
            try:
                if is_awaitable(item):
                    results.append(None)
                    pending = self.defer(pending, results, index, item_output, fp, item, item_path, completed=False)
                    continue
                completed = self.complete(item_output, fp, item, item_path)
                if is_awaitable(completed):
                    results.append(None)
                    pending = self.defer(pending, results, index, item_output, fp, completed, item_path, completed=True)
                    continue
            except Exception as exc:
                completed = self.failed(item_output, fp, exc, item_path)
            results.append(completed)
        if pending is None:
            return results
        return _filled(results, pending)


async def _filled(container: Any, pending: list[tuple[Any, Awaitable[Any]]]) -> Any:
    """``container`` (an object's dict or a list) with each pending value awaited into its slot,
    siblings concurrently and cancelled when one raises (graphql-core's gather_with_cancel)."""
    if len(pending) == 1:
        slot, awaitable = pending[0]
        container[slot] = await awaitable
        return container
    values = await gather_with_cancel(*(awaitable for _, awaitable in pending))
    for (slot, _), value in zip(pending, values, strict=True):
        container[slot] = value
    return container
