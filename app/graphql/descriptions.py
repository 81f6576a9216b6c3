"""Descriptions of enum values and root types, in one place.

The enums' Python classes live in the domains (no GraphQL there), so their GraphQL values get
their descriptions here, applied to the built schema (``describe``); a test fails when any
public enum value or root type has none.
"""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLSchema

from app.errors import ErrorCode

ROOTS = {
    "Query": "Reads: the catalogue, the viewer's progress, onboarding, rewards, reports and any object by id.",
    "Mutation": "Changes: authoring (admins), starting and progressing runs, onboarding, rewards, avatar sessions.",
    "Subscription": "Live events over websockets (graphql-transport-ws or the legacy graphql-ws protocol).",
}

_RUNS = {
    "ACTIVE": "Open and progressing.",
    "SUSPENDED": "Open but paused; resume it to go on.",
    "COMPLETED": "Finished; nothing more happens to it.",
    "ABANDONED": "Given up; a new run may be started.",
}
_CONTENT = {
    "DRAFT": "Being authored; only admins see it.",
    "PUBLISHED": "Visible to users.",
    "ARCHIVED": "Withdrawn; users no longer see it, runs keep their history.",
}

VALUES: dict[str, dict[str, str]] = {
    "Role": {"USER": "Sees and changes only their own progress.", "ADMIN": "Authors content and reads the tenant's."},
    "JourneyVisibility": {"PUBLIC": "Listed in the catalogue.", "PRIVATE": "Reached by id only, never listed."},
    "JourneyStatus": _CONTENT,
    "OnboardingStatus": _CONTENT,
    "JourneyInstanceStatus": _RUNS,
    "OnboardingJourneyStatus": _RUNS,
    "EventInstanceStatus": {
        "NOT_STARTED": "Not started yet.",
        "IN_PROGRESS": "Started, not completed.",
        "COMPLETED": "Completed; its XP was awarded once.",
    },
    "AvatarStatus": {"ACTIVE": "Sessions can be started with it.", "INACTIVE": "Withdrawn; new sessions are refused."},
    "AvatarMode": {"VOICE": "Audio only.", "VIDEO": "Audio and video."},
    "AvatarSessionStatus": {
        "ACTIVE": "The LiveKit room is open.",
        "ENDED": "Ended by the user or the room.",
        "FAILED": "Could not be set up or was lost.",
    },
    "ErrorCode": {code.name: f"HTTP {code.status}: {code.description}" for code in ErrorCode},
}


def describe(schema: GraphQLSchema) -> None:
    """Set the descriptions above on the built schema (what is already described stays)."""
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        if root is not None and not root.description:
            root.description = ROOTS[root.name]
    for type_name, values in VALUES.items():
        enum = schema.type_map.get(type_name)
        if not isinstance(enum, GraphQLEnumType):
            continue
        for name, value in enum.values.items():
            if not value.description and name in values:
                value.description = values[name]
