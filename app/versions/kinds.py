"""What a kind of versioned content is made of: its draft tables, its version tables and its runs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Table
from sqlmodel import SQLModel


def table_of(model: Any) -> Table:
    """The Core table of a SQLModel table class."""
    table: Table = SQLModel.metadata.tables[model.__tablename__]
    return table


@dataclass(frozen=True)
class VersionedKind:
    """One kind of versioned content.

    ``definition`` rows (the draft's fields) own ``item`` rows (kept at positions 1..n) through
    the ``parent`` column; ``version`` rows copy the definition's ``fields`` and
    ``version_item`` rows copy each item's ``id``, ``position`` and ``item_fields`` under the
    same ``parent`` column name. Runs (``run``) name the definition by ``parent`` and pin the
    version they follow in ``run_version``.
    """

    label: str  # "Journey": for NOT_FOUND
    definition: Any  # the SQLModel classes
    item: Any
    version: Any
    version_item: Any
    run: Any
    parent: str  # "journey_id"
    run_version: str  # "journey_version"
    fields: tuple[str, ...]  # copied from the definition
    item_fields: tuple[str, ...]  # copied from each item (besides id and position)
    published: Enum  # the definition statuses that matter here
    archived: Enum
    open_run_statuses: tuple[Enum, ...]

    @property
    def definitions(self) -> Table:
        return table_of(self.definition)

    @property
    def items(self) -> Table:
        return table_of(self.item)

    @property
    def versions(self) -> Table:
        return table_of(self.version)

    @property
    def version_items(self) -> Table:
        return table_of(self.version_item)

    @property
    def runs(self) -> Table:
        return table_of(self.run)
