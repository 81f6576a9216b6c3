"""The admin mutations of versioned content, the same for every kind (app/versions/authoring.py):
create, update, publish and archive a definition; add, update, remove and reorder its items;
move its open runs to the latest version. Each domain's mutation type declares its own fields
(names, arguments, descriptions) and has an :class:`AuthoringMutations` do the work."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.graphql.context import Info
from app.graphql.errors import UserError, require, write_payload
from app.graphql.inputs import given_fields
from app.graphql.relay import local_id
from app.graphql.versions import UpgradeInstancesPayload, served_payload, upgrade_payload
from app.tenancy.models import Tenant
from app.versions.authoring import Authoring
from app.versions.reads import ContentReads

DP = TypeVar("DP")  # the definition's payload
IP = TypeVar("IP")  # an item's payload


@dataclass(frozen=True)
class AuthoringMutations(Generic[DP, IP]):
    """One kind's authoring mutations: global ids decoded, the admin checked, the service called
    in the operation's unit of work, and the payload shaped (a definition as served afterwards)."""

    authoring: Authoring[Any, Any]
    reads: ContentReads
    type_name: str  # a definition's global id type: "Journey"
    item_type_name: str  # an item's: "JourneyEvent"
    node: Callable[[Any], Any]  # a definition's node from its served row: JourneyNode.from_model
    item_node: Callable[[Any], Any]
    payload: Callable[[Any, list[UserError]], DP]  # from the node (None when it failed) and errors
    item_payload: Callable[[Any, list[UserError]], IP]

    async def served(self, info: Info, work: Callable[[AsyncSession], Awaitable[Any]]) -> DP:
        """The definition payload of ``work``, which returns the changed definition."""
        return await served_payload(
            info,
            self.reads,
            work,
            ok=lambda definition: self.payload(self.node(definition), []),
            failed=lambda errors: self.payload(None, errors),
        )

    async def _item(self, info: Info, work: Callable[[AsyncSession], Awaitable[Any]]) -> IP:
        return await write_payload(
            info,
            work,
            ok=lambda item: self.item_payload(self.item_node(item), []),
            failed=lambda errors: self.item_payload(None, errors),
        )

    def key(self, definition_id: strawberry.ID) -> uuid.UUID | None:
        """A definition's key from its global id (None for an unknown one)."""
        return local_id(definition_id, self.type_name)

    def require(self, key: uuid.UUID | None, field: str) -> uuid.UUID:
        """The definition's key, or NOT_FOUND on ``field`` (inside the unit of work)."""
        return require(key, self.authoring.kind.label, field)

    async def create(self, info: Info, input: object) -> DP:
        """Admins: a new DRAFT definition from ``input``."""
        viewer = await info.context.admin()
        values = self.authoring.fields(**given_fields(input))
        return await self.served(info, lambda s: self.authoring.create(s, tenant_id=viewer.tenant_id, values=values))

    async def update(self, info: Info, definition_id: strawberry.ID, input: object) -> DP:
        """Admins: change the fields ``input`` gives."""
        viewer = await info.context.admin()
        key = self.key(definition_id)
        values = self.authoring.fields(**given_fields(input))
        return await self.served(
            info,
            lambda s: self.authoring.update(
                s, tenant_id=viewer.tenant_id, definition_id=self.require(key, "id"), values=values
            ),
        )

    async def publish(self, info: Info, definition_id: strawberry.ID) -> DP:
        """Admins: publish the draft as the next version."""
        return await self._change(info, definition_id, self.authoring.publish)

    async def archive(self, info: Info, definition_id: strawberry.ID) -> DP:
        """Admins: withdraw the definition from users."""
        return await self._change(info, definition_id, self.authoring.archive)

    async def _change(self, info: Info, definition_id: strawberry.ID, change: Callable[..., Awaitable[Any]]) -> DP:
        viewer = await info.context.admin()
        key = self.key(definition_id)
        return await self.served(
            info, lambda s: change(s, tenant_id=viewer.tenant_id, definition_id=self.require(key, "id"))
        )

    async def add_item(self, info: Info, definition_id: strawberry.ID, input: object) -> IP:
        """Admins: append an item."""
        viewer = await info.context.admin()
        key = self.key(definition_id)
        values = self.authoring.item_fields(**given_fields(input))
        field = self.authoring.parent_field
        return await self._item(
            info,
            lambda s: self.authoring.add_item(
                s, tenant_id=viewer.tenant_id, definition_id=self.require(key, field), values=values
            ),
        )

    async def update_item(self, info: Info, item_id: strawberry.ID, input: object) -> IP:
        """Admins: change the fields of an item ``input`` gives."""
        viewer = await info.context.admin()
        key = local_id(item_id, self.item_type_name)
        values = self.authoring.item_fields(**given_fields(input))
        label = self.authoring.item_label
        return await self._item(
            info,
            lambda s: self.authoring.update_item(
                s, tenant_id=viewer.tenant_id, item_id=require(key, label, "id"), values=values
            ),
        )

    async def remove_item(self, info: Info, item_id: strawberry.ID) -> IP:
        """Admins: remove an item (the payload shows it as it was)."""
        viewer = await info.context.admin()
        key = local_id(item_id, self.item_type_name)
        label = self.authoring.item_label
        return await self._item(
            info,
            lambda s: self.authoring.remove_item(s, tenant_id=viewer.tenant_id, item_id=require(key, label, "id")),
        )

    async def reorder_items(self, info: Info, definition_id: strawberry.ID, item_ids: Sequence[strawberry.ID]) -> DP:
        """Admins: put the items in the order of ``item_ids``."""
        viewer = await info.context.admin()
        key = self.key(definition_id)
        keys = [local_id(i, self.item_type_name) for i in item_ids]
        label, field, list_field = self.authoring.item_label, self.authoring.parent_field, f"{self.authoring.item_key}s"
        return await self.served(
            info,
            lambda s: self.authoring.reorder_items(
                s,
                tenant_id=viewer.tenant_id,
                definition_id=self.require(key, field),
                item_ids=[require(k, label, list_field) for k in keys],
            ),
        )

    async def upgrade(
        self,
        info: Info,
        definition_id: strawberry.ID,
        move: Callable[[AsyncSession, Tenant, uuid.UUID], Awaitable[int]],
    ) -> UpgradeInstancesPayload:
        """Move the definition's open runs with ``move`` (session, tenant, definition key)."""
        viewer = await info.context.admin()
        key = self.key(definition_id)
        field = self.authoring.parent_field
        return await upgrade_payload(info, lambda s: move(s, viewer.tenant, self.require(key, field)))
