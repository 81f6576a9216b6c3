"""Resource references (XP and rewards): a resource of this API is named by its global id.

XP is attributed to a ``resourceType`` and ``resourceId``. For the types this API serves
(``journey``, ``onboarding``) the id is stored as the object's UUID and shown as its global
id; any other resource type is the tenant's own, and its id passes through as given.
"""

from __future__ import annotations

import uuid

import strawberry

from app.graphql.relay import bad_input, parse_global_id, to_global_id

NODE_RESOURCES = {"journey": "Journey", "onboarding": "Onboarding"}


def resource_id_out(resource_type: str | None, resource_id: str | None) -> strawberry.ID | None:
    """The id a client sees for a stored resource id."""
    if resource_id is None:
        return None
    type_name = NODE_RESOURCES.get(resource_type or "")
    if type_name is not None:
        try:
            return to_global_id(type_name, uuid.UUID(resource_id))
        except ValueError:
            pass
    return strawberry.ID(resource_id)


def resource_id_in(resource_type: str | None, resource_id: str | None, *, field: str) -> str | None:
    """The stored form of a resource id a client sent: a global id of this API's own
    resource types becomes its UUID (a wrong type is BAD_USER_INPUT); others pass as given."""
    if resource_id is None:
        return None
    type_name = NODE_RESOURCES.get(resource_type or "")
    if type_name is None:
        return resource_id
    parsed = parse_global_id(resource_id)
    if parsed is not None and parsed[0] == type_name:
        return str(parsed[1])
    try:
        return str(uuid.UUID(resource_id))
    except ValueError:
        raise bad_input(f"must be the id of a {type_name} for resourceType `{resource_type}`", field) from None
