"""Parsed and checked documents, cached by their text and bounded by bytes.

Strawberry's ParserCache and ValidationCache are LRU caches counted in entries: a thousand
1 MB documents stay in memory for good. This cache counts an estimate of what each entry
holds (a parsed document takes about a hundred bytes per character of its text; measured
with tracemalloc on the README's documents: 69-103), keeps at most ``max_bytes`` of them,
and never caches a document longer than ``max_document_chars``; those are parsed and
checked for their request only.

One extension does parsing, the limits (app/graphql/limits.py, one linear pass run before
graphql-core's own rules, which are not run on a document over a limit), validation (with
suggestions hidden in production), the result-size limit for the request's variables and
the refusal of NUL characters and lone surrogates in variables (app/graphql/input_checks.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from graphql.validation.rules import overlapping_fields_can_be_merged
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from app.graphql.errors import QueryTooComplex
from app.graphql.input_checks import forbidden_literals, forbidden_variables
from app.graphql.limits import MAX_NODES, OVERLAP_BUDGET, DocumentMeasure, measure_document, too_many_nodes

BYTES_PER_CHAR = 128
ENTRY_OVERHEAD = 2048


@dataclass
class Checked:
    """A document, and (once validated) its validation errors and measure."""

    document: DocumentNode
    cost: int
    errors: list[GraphQLError] | None = None
    measure: DocumentMeasure | None = None


class DocumentCache:
    """Documents by their text, least recently used first out, bounded by estimated bytes."""

    def __init__(self, *, max_bytes: int = 32 * 1024 * 1024, max_document_chars: int = 16 * 1024) -> None:
        self.max_bytes = max_bytes
        self.max_document_chars = max_document_chars
        self.bytes = 0
        self._entries: OrderedDict[str, Checked] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, query: str) -> Checked | None:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
        return entry

    def add(self, query: str, document: DocumentNode) -> Checked:
        """An entry for ``document``, kept if it is small enough to cache."""
        entry = Checked(document, ENTRY_OVERHEAD + BYTES_PER_CHAR * len(query))
        if len(query) > self.max_document_chars or entry.cost > self.max_bytes:
            return entry
        previous = self._entries.pop(query, None)
        if previous is not None:
            self.bytes -= previous.cost
        self._entries[query] = entry
        self.bytes += entry.cost
        while self.bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.cost
        return entry


# graphql-core reads its overlap budget when the rule starts (see app/graphql/limits.py).
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = OVERLAP_BUDGET


def check_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: Sequence[type[ASTValidationRule]],
    *,
    hide_suggestions: bool,
) -> tuple[list[GraphQLError], DocumentMeasure]:
    """The document's limit errors, or else graphql-core's validation errors."""
    measure = measure_document(schema, document)
    if measure.errors:
        return list(measure.errors), measure
    literal = forbidden_literals(document)
    if literal is not None:
        return [literal], measure
    errors = validate(
        schema,
        document,
        (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
        hide_suggestions=hide_suggestions,
    )
    return errors, measure


class Documents(SchemaExtension):
    """Parsing and checking through a :class:`DocumentCache` (see the module docstring)."""

    def __init__(self, cache: DocumentCache, *, extra_rules: Sequence[type[ASTValidationRule]], hide_suggestions: bool):
        super().__init__()
        self.cache = cache
        self.extra_rules = tuple(extra_rules)
        self.hide_suggestions = hide_suggestions
        self.entry: Checked | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        self.entry = self.cache.get(query) if query else None
        if self.entry is not None:
            context.graphql_document = self.entry.document
        yield
        if self.entry is None and query and context.graphql_document is not None:
            self.entry = self.cache.add(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self.entry
        if entry is not None:
            if entry.errors is None:
                entry.errors, entry.measure = check_document(
                    context.schema._schema,
                    entry.document,
                    (*context.validation_rules, *self.extra_rules),
                    hide_suggestions=self.hide_suggestions,
                )
            errors = list(entry.errors)
            if not errors and entry.measure is not None:
                errors = self._request_checks(entry.measure)
            context.pre_execution_errors = errors
        yield

    def _request_checks(self, measure: DocumentMeasure) -> list[GraphQLError]:
        """What depends on this request's variables: the result size and forbidden characters."""
        context = self.execution_context
        nodes = measure.nodes(context.operation_name, context.variables)
        if nodes > MAX_NODES:
            return [QueryTooComplex(too_many_nodes(nodes))]
        problem = forbidden_variables(context.variables)
        return [problem] if problem is not None else []
