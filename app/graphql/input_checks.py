"""Refusing NUL characters and lone surrogates in a request's input (SPEC §13).

They would fail deep inside PostgreSQL or the UTF-8 encoder (app/text.py); here they are
found before any resolver runs, in the document's string literals (checked once per cached
document) and in the variables (per request), and refused as BAD_USER_INPUT with the path
of every offending value: ``["variables", "input", "title"]`` or
``["createJourney", "input", "title"]`` for a literal argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
)

from app.errors import FieldProblem, InvalidInput
from app.text import forbidden_character

MAX_REPORTED = 20


def _refusal(problems: list[FieldProblem]) -> GraphQLError | None:
    if not problems:
        return None
    error = InvalidInput(problems[:MAX_REPORTED])
    return GraphQLError(error.message, original_error=error)


def forbidden_variables(variables: dict[str, Any] | None) -> GraphQLError | None:
    """A BAD_USER_INPUT error naming each variable value (or JSON key) that holds NUL or a lone
    surrogate; None when there is none."""
    problems: list[FieldProblem] = []
    if variables:
        _walk_json(variables, ("variables",), problems)
    return _refusal(problems)


def _walk_json(value: Any, path: tuple[str, ...], problems: list[FieldProblem]) -> None:
    # Iterative: variables may nest deeply (the JSON depth limit is 64, but be safe anyway).
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, path)]
    while stack and len(problems) < MAX_REPORTED:
        item, where = stack.pop()
        if isinstance(item, str):
            wrong = forbidden_character(item)
            if wrong:
                problems.append(FieldProblem(where, wrong))
        elif isinstance(item, dict):
            for key, inner in item.items():
                wrong = forbidden_character(key) if isinstance(key, str) else None
                if wrong:
                    problems.append(FieldProblem(where, f"keys {wrong}"))
                    continue
                stack.append((inner, (*where, str(key))))
        elif isinstance(item, list):
            stack.extend((inner, (*where, str(index))) for index, inner in enumerate(item))


def forbidden_literals(document: DocumentNode) -> GraphQLError | None:
    """A BAD_USER_INPUT error naming each string literal of the document that holds NUL or a
    lone surrogate (the lexer refuses surrogates itself, but lets ``\\u0000`` through)."""
    problems = [FieldProblem(path, wrong) for path, wrong in _literal_problems(document)]
    return _refusal(problems)


def _literal_problems(document: DocumentNode) -> Iterator[tuple[tuple[str, ...], str]]:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                if variable.default_value is not None:
                    yield from _value(variable.default_value, ("variables", variable.variable.name.value))
            yield from _directives(definition.directives, ())
            yield from _selections(definition.selection_set, ())
        elif isinstance(definition, FragmentDefinitionNode):
            yield from _directives(definition.directives, ())
            yield from _selections(definition.selection_set, ())


def _selections(node: SelectionSetNode | None, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    for selection in node.selections if node is not None else ():
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            yield from _arguments(selection.arguments, (*path, key))
            yield from _directives(selection.directives, (*path, key))
            yield from _selections(selection.selection_set, (*path, key))
        else:
            yield from _directives(selection.directives, path)
            if isinstance(selection, InlineFragmentNode):
                yield from _selections(selection.selection_set, path)


def _directives(
    directives: tuple[DirectiveNode, ...] | None, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str]]:
    for directive in directives or ():
        yield from _arguments(directive.arguments, (*path, f"@{directive.name.value}"))


def _arguments(
    arguments: tuple[ArgumentNode, ...] | None, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str]]:
    for argument in arguments or ():
        yield from _value(argument.value, (*path, argument.name.value))


def _value(node: ValueNode, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, StringValueNode):
        wrong = forbidden_character(node.value)
        if wrong:
            yield path, wrong
    elif isinstance(node, ListValueNode):
        for index, item in enumerate(node.values):
            yield from _value(item, (*path, str(index)))
    elif isinstance(node, ObjectValueNode):
        for entry in node.fields:
            yield from _value(entry.value, (*path, entry.name.value))
