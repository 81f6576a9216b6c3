"""Document limits, measured in one pass before graphql-core's validation runs.

Every selection of the document is visited once: a fragment is measured when it is first
spread and its figures are reused wherever else it is spread, so a document whose fragments
each spread the next one twice costs as much as it is long, not 2^n (SPEC §13).

The pass measures:
- depth (fields nested, fragments adding no level of their own; introspection fields are
  bounded by the schema and not counted);
- aliases (each aliased field node once);
- the result size (GitHub's node limit): for each connection, the product of its page size
  and those of the connections around it, summed; page sizes may come from variables, so the
  pass yields a :class:`Cost` that is evaluated per request;
A document over any limit is refused without running graphql-core's rules at all.

graphql-core's OverlappingFieldsCanBeMergedRule compares pairs of fields, so its work grows
with the square of the fields sharing a response name (``{ viewer { id } viewer { id } …}``
within the token limit took 1.3 s). The library meters that work with a complexity budget
and aborts validation when it runs out; ``OVERLAP_BUDGET`` lowers its default (500,000
units, about 2 µs each here) to a few tens of milliseconds of work at most. The documents of
the README and the test suite spend at most 3 units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    Node,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from app.graphql.errors import QueryTooComplex

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000
MAX_BODY_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024  # the request line and headers, in all
MAX_NODES = 50_000
OVERLAP_BUDGET = 50_000
DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(eq=False)
class Cost:
    """The result-size figure of a selection set: the sum over its connections of page * (1 + inner),
    plus its other parts (sub-selections, inline fragments, fragments; shared, not copied)."""

    connections: list[tuple[int | str, Cost]] = field(default_factory=list)
    parts: list[Cost] = field(default_factory=list)
    static: int | None = None  # the figure, when no page size depends on a variable

    def fold(self) -> None:
        """Compute ``static`` when every page size below is a literal."""
        if all(isinstance(p, int) and c.static is not None for p, c in self.connections) and all(
            part.static is not None for part in self.parts
        ):
            self.static = self.evaluate({}, {})

    def evaluate(self, pages: dict[str, int], memo: dict[int, int]) -> int:
        """The node count with page sizes from variables ``pages`` (capped past ``MAX_NODES``)."""
        if self.static is not None:
            return self.static
        known = memo.get(id(self))
        if known is not None:
            return known
        total = 0
        for page, inner in self.connections:
            size = page if isinstance(page, int) else pages.get(page, DEFAULT_PAGE)
            total += size * (1 + inner.evaluate(pages, memo))
            total = min(total, MAX_NODES + 1)
        for part in self.parts:
            total = min(total + part.evaluate(pages, memo), MAX_NODES + 1)
        memo[id(self)] = total
        return total


@dataclass
class _Figures:
    depth: int
    cost: Cost


@dataclass
class DocumentMeasure:
    """What the pass found; ``visited`` counts the selections it looked at."""

    errors: list[QueryTooComplex]
    costs: dict[str, Cost]  # by operation name ("" for an anonymous one)
    variable_pages: dict[str, dict[str, int | None]]  # per operation: variable -> its default
    visited: int

    def nodes(self, operation_name: str | None, variables: dict[str, Any] | None) -> int:
        """The result-size figure of the operation that runs, with these variables."""
        cost = self.costs.get(operation_name or "") or (next(iter(self.costs.values())) if self.costs else None)
        if cost is None:
            return 0
        if cost.static is not None:
            return cost.static
        defaults = self.variable_pages.get(operation_name or "", {})
        pages = {name: _page_value((variables or {}).get(name, default)) for name, default in defaults.items()}
        return cost.evaluate(pages, {})


def _page_value(value: Any) -> int:
    # Invalid sizes are refused by the connection itself (BAD_USER_INPUT); here they count as capped.
    if isinstance(value, bool) or not isinstance(value, int):
        return DEFAULT_PAGE
    return max(0, min(value, MAX_PAGE))


class _Pass:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.done: dict[str, _Figures] = {}
        self.active: set[str] = set()
        self.visited = 0
        self.aliases = 0
        self.errors: list[QueryTooComplex] = []
        self.variables_used: set[str] = set()

    def fragment(self, name: str) -> _Figures | None:
        figures = self.done.get(name)
        if figures is not None or name in self.active:
            return figures  # a cycle is graphql-core's error to report; it adds nothing here
        definition = self.fragments.get(name)
        if definition is None:
            return None
        self.active.add(name)
        parent = self.schema.get_type(definition.type_condition.name.value)
        figures = self.selection_set(definition.selection_set, parent)
        self.active.discard(name)
        self.done[name] = figures
        return figures

    def selection_set(self, node: SelectionSetNode, parent: Any) -> _Figures:
        cost = Cost()
        depth = self._collect(node, parent, cost, set())
        cost.fold()
        return _Figures(depth, cost)

    def _collect(self, node: SelectionSetNode, parent: Any, cost: Cost, spreads: set[str]) -> int:
        deepest = 0
        for selection in node.selections:
            self.visited += 1
            if isinstance(selection, FieldNode):
                deepest = max(deepest, self._field(selection, parent, cost))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                # An inline fragment's fields merge into this selection (and its spreads too).
                deepest = max(deepest, self._collect(selection.selection_set, inner, cost, spreads))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spreads:
                    continue  # spread twice in one selection, executed once
                spreads.add(name)
                figures = self.fragment(name)
                if figures is not None:
                    deepest = max(deepest, figures.depth)
                    cost.parts.append(figures.cost)
        return deepest

    def _field(self, node: FieldNode, parent: Any, cost: Cost) -> int:
        name = node.name.value
        if node.alias is not None:
            self.aliases += 1
        if node.selection_set is None:
            return 0 if name.startswith("__") else 1
        definition = parent.fields.get(name) if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) else None
        inner_type = get_named_type(definition.type) if definition is not None else None
        inner = self.selection_set(node.selection_set, inner_type)
        if inner_type is not None and inner_type.name.endswith("Connection"):
            cost.connections.append((self._page(node), inner.cost))
        else:
            cost.parts.append(inner.cost)
        if name.startswith("__"):
            return 0  # introspection is bounded by the schema itself
        return 1 + inner.depth

    def _page(self, node: FieldNode) -> int | str:
        for argument in node.arguments or ():
            if argument.name.value in {"first", "last"}:
                value = argument.value
                if isinstance(value, IntValueNode):
                    return _page_value(int(value.value))
                if isinstance(value, VariableNode):
                    self.variables_used.add(value.name.value)
                    return value.name.value
        return DEFAULT_PAGE

    def _refuse(self, message: str, node: Node) -> None:
        self.errors.append(QueryTooComplex(message, node))


def measure_document(schema: GraphQLSchema, document: Any) -> DocumentMeasure:
    """Measure ``document`` (a DocumentNode) against the limits, in one linear pass."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = _Pass(schema, fragments)
    costs: dict[str, Cost] = {}
    variable_pages: dict[str, dict[str, int | None]] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        root = schema.get_root_type(definition.operation) if definition.operation in OperationType else None
        walk.variables_used = set()
        figures = walk.selection_set(definition.selection_set, root)
        label = definition.name.value if definition.name else ""
        costs[label] = figures.cost
        defaults: dict[str, int | None] = {}
        for variable in definition.variable_definitions or ():
            name = variable.variable.name.value
            default = variable.default_value
            defaults[name] = int(default.value) if isinstance(default, IntValueNode) else None
        variable_pages[label] = defaults
        if figures.depth > MAX_DEPTH:
            walk._refuse(
                f"Operation '{label or 'anonymous'}' is {figures.depth} levels deep; at most {MAX_DEPTH} are allowed",
                definition,
            )
        if figures.cost.static is not None and figures.cost.static > MAX_NODES:
            walk._refuse(too_many_nodes(figures.cost.static), definition)
    for name in fragments:  # unused fragments are graphql-core's error, but measured all the same
        walk.fragment(name)
    if walk.aliases > MAX_ALIASES:
        walk._refuse(f"The document uses {walk.aliases} aliases; at most {MAX_ALIASES} are allowed", document)
    return DocumentMeasure(walk.errors, costs, variable_pages, walk.visited)


def too_many_nodes(count: int) -> str:
    shown = f"more than {MAX_NODES:,}" if count > MAX_NODES else f"{count:,}"
    return f"The operation could return {shown} nodes (page sizes multiplied); at most {MAX_NODES:,} are allowed"
