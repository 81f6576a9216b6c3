"""The documentation's GraphQL: every ```graphql block of README.md and docs/ is valid against
`schema.graphql`, the guide in docs/ shows every root field at least once, and nothing points
outside the repository."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    parse,
    specified_rules,
    validate,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "schema.graphql"
README = ROOT / "README.md"
DOCS = ROOT / "docs"

# A fence opens with three or more backticks or tildes and is closed by the same character, at
# least as many times, with nothing after it (CommonMark). Any indentation is taken, so that
# blocks nested in list items are found too.
_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\s`]*)")


@dataclass(frozen=True)
class Block:
    """One fenced ```graphql block of a Markdown file."""

    path: Path
    line: int  # of the block's first line of GraphQL (1-based)
    text: str

    @property
    def where(self) -> str:
        first = next((line.strip() for line in self.text.splitlines() if line.strip()), "(empty block)")
        return f"{self.path.relative_to(ROOT)}:{self.line}: {first}"


def markdown_files() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def graphql_blocks(path: Path) -> list[Block]:
    """The ```graphql blocks of one Markdown file, in order (blocks of other languages skipped)."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        start = index + 1
        end = start
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if opening["info"].lower() in {"graphql", "gql"}:
            blocks.append(Block(path=path, line=start + 1, text=textwrap.dedent("\n".join(lines[start:end]))))
        index = end + 1
    return blocks


@cache
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def all_blocks() -> list[Block]:
    return [block for path in markdown_files() for block in graphql_blocks(path)]


def _problems(block: Block) -> list[str]:
    try:
        document = parse(block.text)
    except GraphQLError as error:
        return [f"does not parse: {error.message} (at {_position(block, error)})"]
    return [
        f"{error.message} (at {_position(block, error)})" for error in validate(schema(), document, specified_rules)
    ]


def _position(block: Block, error: GraphQLError) -> str:
    """Where an error is, as a line of the Markdown file."""
    if not error.locations:
        return "the block"
    location = error.locations[0]
    return f"line {block.line + location.line - 1}, column {location.column}"


BLOCKS = all_blocks()


def test_the_docs_have_graphql_blocks() -> None:
    # the guide exists and this test found its examples (a broken fence parser would find none)
    assert (DOCS / "README.md").is_file()
    assert len([b for b in BLOCKS if b.path.is_relative_to(DOCS)]) >= 10
    assert any(b.path == README for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b.path.relative_to(ROOT)}:{b.line}")
def test_every_graphql_block_is_valid_against_the_schema(block: Block) -> None:
    problems = _problems(block)
    assert not problems, f"{block.where}\n  " + "\n  ".join(problems)


def _root_fields_used(document: DocumentNode, root_names: dict[OperationType, str]) -> set[str]:
    """`Type.field` for every root field an operation of ``document`` selects, also through fragments."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    used: set[str] = set()

    def walk(root: str, selections: SelectionSetNode, seen: frozenset[str]) -> None:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    used.add(f"{root}.{selection.name.value}")
            elif isinstance(selection, InlineFragmentNode):
                walk(root, selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    walk(root, fragments[name].selection_set, seen | {name})

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk(root_names[definition.operation], definition.selection_set, frozenset())
    return used


def test_the_docs_show_every_root_field() -> None:
    roots = {
        OperationType.QUERY: schema().query_type,
        OperationType.MUTATION: schema().mutation_type,
        OperationType.SUBSCRIPTION: schema().subscription_type,
    }
    root_names = {operation: root.name for operation, root in roots.items() if root is not None}
    wanted = {f"{root.name}.{name}" for root in roots.values() if root is not None for name in root.fields}
    used: set[str] = set()
    for block in BLOCKS:
        if block.path.is_relative_to(DOCS):
            used |= _root_fields_used(parse(block.text), root_names)
    missing = sorted(wanted - used)
    assert not missing, "root fields without an example in docs/: " + ", ".join(missing)


def text_files() -> list[Path]:
    """README.md and every file under docs/."""
    return [README, *sorted(p for p in DOCS.rglob("*") if p.is_file())]


@pytest.mark.parametrize("path", text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_points_outside_the_repository(path: Path) -> None:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for n, line in enumerate(lines, 1) if "../shared" in line]
    assert not found, "references outside the repository:\n  " + "\n  ".join(found)
