"""Execution plans: what graphql-core works out for every field of every object on every
request, worked out once per operation.

A plan is compiled from a validated operation the first time it runs (and again only for
another combination of the variables its ``@skip``/``@include`` directives read): the fields
of each selection are collected with graphql-core's own ``collect_fields`` /
``collect_subfields`` (fragments, inline fragments and directives resolved, same-named
fields merged, response order kept), each field's definition, arguments (coerced once when
they hold no variables), resolver and output completion are looked up, and Strawberry fields
without a resolver of their own are read straight off the object (``getattr`` of their Python
name — what Strawberry's default resolver does). Sub-plans of objects are compiled when a
value of that type first arrives, so abstract fields and unused branches cost nothing.

A Strawberry field with a resolver of its own and nothing around it (no field extensions or
exception handlers) gets a :class:`DirectCall`: its function is called as Strawberry's
per-call wrapper would call it — the object as ``self``/``root``/``parent``, a Strawberry
``Info`` where it asks for one, the arguments converted to their Python values — with the
conversion done once here when the arguments are literals whose Python values cannot be
changed (scalars, enums), per call otherwise.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    is_abstract_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.language import Visitor
from strawberry.types.arguments import convert_arguments

STRAWBERRY_DEFINITION = "strawberry-definition"
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Python values a resolver cannot change in place: converted once, they may serve every request.
_FROZEN = (
    str,
    int,
    float,
    bool,
    enum.Enum,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    decimal.Decimal,
)
# What Strawberry's schema converter names the resolvers it wraps around a field's function.
_STRAWBERRY_WRAPPERS = ("from_resolver.<locals>._resolver", "from_resolver.<locals>._async_resolver")


class Unsupported(Exception):
    """The operation is left to graphql-core (introspection, @defer/@stream, subscriptions)."""


@dataclass(eq=False)
class Output:
    """How to complete a field's value: its type, unwrapped once."""

    type: GraphQLOutputType
    non_null: bool
    kind: str  # "leaf", "list", "object", "abstract"
    leaf: Callable[[Any], Any] | None = None
    item: Output | None = None
    object_type: GraphQLObjectType | None = None
    details: list[FieldDetails] = field(default_factory=list)
    plans: dict[str, ObjectPlan] = field(default_factory=dict)  # per runtime type name


@dataclass(eq=False)
class DirectCall:
    """How to call a Strawberry field's own function without Strawberry's per-call wrapper."""

    function: Callable[..., Any]
    field: Any  # the StrawberryField (for its Info)
    info_class: type
    pass_self: bool  # the object as the first positional argument
    source_names: tuple[str, ...]  # keyword arguments that receive the object (root, parent)
    info_name: str | None  # the keyword argument that receives the Info, if any
    arguments: dict[str, Any] | None  # converted once; None when converted per call
    convert: Callable[[dict[str, Any], Any], dict[str, Any]]  # GraphQL arguments -> Python ones
    pathless: bool = False  # a call needs no resolve info (so no path): no Info asked for, no conversion
    # ``function(source)`` is the whole call: a method of the object taking nothing else (the
    # fields that read their value off the object's row when asked for, say).
    bare: bool = False


@dataclass(eq=False)
class FieldPlan:
    key: str
    name: str
    parent_type: GraphQLObjectType
    definition: GraphQLField
    details: list[FieldDetails]
    nodes: list[FieldNode]
    attribute: str | None  # read straight off the source object when set
    arguments: dict[str, Any] | None  # coerced once; None when they depend on variables
    output: Output
    typename: bool = False  # the `__typename` meta field
    direct: DirectCall | None = None  # the field's function, called without Strawberry's wrapper

    @property
    def parent(self) -> str:
        return self.parent_type.name


@dataclass(eq=False)
class ObjectPlan:
    type: GraphQLObjectType
    fields: list[FieldPlan]


def _leaf(kind: GraphQLOutputType) -> Callable[[Any], Any]:
    """A completion for scalar and enum values, with graphql-core's checks; fast paths for
    the values that need no conversion."""
    coerce = kind.coerce_output_value  # type: ignore[union-attr]

    def general(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is None:
            raise TypeError(f"Expected `{kind}.coerce_output_value({value!r})` to return non-nullable value")
        return coerced

    name = getattr(kind, "name", "")
    if name in {"String", "ID"}:
        return lambda value: value if type(value) is str else general(value)
    if name == "Int":
        return lambda value: value if type(value) is int and INT_MIN <= value <= INT_MAX else general(value)
    if name == "Boolean":
        return lambda value: value if type(value) is bool else general(value)
    if isinstance(kind, GraphQLEnumType):
        names: dict[Any, str] = {}
        for enum_name, enum_value in kind.values.items():
            try:
                names[enum_value.value] = enum_name
            except TypeError:  # an unhashable value: no fast path
                return general
        return lambda value: names.get(value) or general(value)
    return general


def output_for(kind: GraphQLOutputType, details: list[FieldDetails]) -> Output:
    non_null = isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if isinstance(inner, GraphQLList):
        return Output(kind, non_null, "list", item=output_for(inner.of_type, details), details=details)
    if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
        return Output(kind, non_null, "leaf", leaf=_leaf(inner))
    if is_abstract_type(inner):
        return Output(inner, non_null, "abstract", details=details)
    assert isinstance(inner, GraphQLObjectType)
    return Output(inner, non_null, "object", object_type=inner, details=details)


class Compiler:
    """Compiles one operation's plans for an executor's variables (see the module docstring)."""

    def __init__(self, executor: Any) -> None:
        self.schema = executor.schema
        self.fragments = executor.fragments
        self.variables = executor.variable_values
        self.operation = executor.operation
        self.hide_suggestions = executor.hide_suggestions
        self.strawberry = getattr(self.schema, "_strawberry_schema", None)

    def root(self) -> ObjectPlan:
        root_type = self.schema.get_root_type(self.operation.operation)
        collected = collect_fields(
            self.schema, self.fragments, self.variables, root_type, self.operation, self.hide_suggestions
        )
        return self._plan(root_type, collected[0])

    def object_plan(self, output: Output, runtime_type: GraphQLObjectType) -> ObjectPlan:
        plan = output.plans.get(runtime_type.name)
        if plan is None:
            collected = collect_subfields(
                self.schema,
                self.fragments,
                self.variables,
                self.operation,
                runtime_type,
                output.details,
                self.hide_suggestions,
            )
            plan = output.plans[runtime_type.name] = self._plan(runtime_type, collected[0])
        return plan

    def _plan(self, parent: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]) -> ObjectPlan:
        fields = []
        for key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                fields.append(FieldPlan(key, name, parent, None, details, [], None, {}, None, typename=True))  # type: ignore[arg-type]
                continue
            if name.startswith("__"):
                raise Unsupported("introspection")
            definition = self.schema.get_field(parent, name)
            if definition is None:
                continue  # graphql-core skips it too (validation has refused such documents)
            strawberry_field = (definition.extensions or {}).get(STRAWBERRY_DEFINITION)
            basic = getattr(definition.resolve, "_is_default", False) and strawberry_field is not None
            arguments = self._static_arguments(definition, details[0])
            fields.append(
                FieldPlan(
                    key=key,
                    name=name,
                    parent_type=parent,
                    definition=definition,
                    details=details,
                    nodes=[d.node for d in details],
                    attribute=strawberry_field.python_name if basic and strawberry_field is not None else None,
                    arguments=arguments,
                    output=output_for(definition.type, details),
                    direct=None if basic else self._direct(definition, strawberry_field, arguments),
                )
            )
        return ObjectPlan(parent, fields)

    def _direct(
        self, definition: GraphQLField, strawberry_field: Any, arguments: dict[str, Any] | None
    ) -> DirectCall | None:
        """The field's own function and how to call it, when nothing but Strawberry's wrapper
        stands between graphql-core and it (see the module docstring); None otherwise."""
        resolver = getattr(strawberry_field, "base_resolver", None)
        wrapper = getattr(definition.resolve, "__qualname__", "")
        converter = getattr(self.strawberry, "schema_converter", None)
        handlers = getattr(converter, "_get_field_exception_handlers", None)
        if (
            resolver is None
            or converter is None
            or handlers is None
            or strawberry_field.extensions
            or handlers(strawberry_field)
            or not wrapper.endswith(_STRAWBERRY_WRAPPERS)
            or not callable(resolver.wrapped_func)
        ):
            return None
        config = self.strawberry.config  # type: ignore[union-attr]
        registry = converter.scalar_registry
        field_arguments = strawberry_field.arguments

        def convert(values: dict[str, Any], info: Any) -> dict[str, Any]:
            return convert_arguments(values, field_arguments, scalar_registry=registry, config=config, info=info)

        converted: dict[str, Any] | None = None
        if arguments is not None:
            once = convert(arguments, None)
            if all(value is None or isinstance(value, _FROZEN) for value in once.values()):
                converted = once
        source_names = tuple(
            parameter.name
            for parameter in (resolver.parent_parameter, resolver.root_parameter)
            if parameter is not None
        )
        info_parameter = resolver.info_parameter
        pass_self = resolver.self_parameter is not None
        return DirectCall(
            function=resolver.wrapped_func,
            field=strawberry_field,
            info_class=config.info_class,
            pass_self=pass_self,
            source_names=source_names,
            info_name=info_parameter.name if info_parameter is not None else None,
            arguments=converted,
            convert=convert,
            pathless=info_parameter is None and converted is not None,
            bare=info_parameter is None and converted == {} and pass_self and not source_names,
        )

    def _static_arguments(self, definition: GraphQLField, details: FieldDetails) -> dict[str, Any] | None:
        node = details.node
        if not definition.args and not node.arguments:
            return {}
        if details.fragment_variable_values is not None or _uses_variables(node):
            return None
        try:
            return get_argument_values(definition, node, self.variables, None, self.hide_suggestions)
        except GraphQLError:
            return None  # reported when the field runs, as graphql-core does


def _uses_variables(node: FieldNode) -> bool:
    found = False

    class Finder(Visitor):
        def enter_variable(self, *_args: Any) -> None:
            nonlocal found
            found = True

    for argument in node.arguments or ():
        visit(argument, Finder())
    return found


def directive_variables(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> tuple[str, ...]:
    """The variables that `@skip`/`@include` read (plans differ only by their values);
    :class:`Unsupported` for `@defer`/`@stream`."""
    names: set[str] = set()

    class Finder(Visitor):
        def enter_directive(self, node: DirectiveNode, *_args: Any) -> None:
            if node.name.value in {"defer", "stream"}:
                raise Unsupported("incremental delivery")
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode):
                    names.add(argument.value.name.value)

    visit(operation, Finder())
    for fragment in fragments.values():
        visit(getattr(fragment, "definition", fragment), Finder())
    return tuple(sorted(names))


def supported(operation: OperationDefinitionNode) -> bool:
    return operation.operation is OperationType.QUERY
