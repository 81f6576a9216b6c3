"""The schema: each domain's Query, Mutation and Subscription merged, with the conventions' extensions."""

from __future__ import annotations

import logging
from typing import Annotated

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from app.graphql.avatars.mutations import AvatarsMutation
from app.graphql.avatars.queries import AvatarsQuery
from app.graphql.catalog.mutations import CatalogMutation
from app.graphql.catalog.queries import CatalogQuery
from app.graphql.context import Context, Info
from app.graphql.descriptions import describe
from app.graphql.documents import DocumentCache, Documents
from app.graphql.errors import ErrorShaping
from app.graphql.execution.executor import CompiledExecutor
from app.graphql.limits import MAX_TOKENS
from app.graphql.metrics import ObserveOperation
from app.graphql.node import resolve_node
from app.graphql.observability import LogOperation
from app.graphql.onboarding.authoring import OnboardingAuthoringMutation
from app.graphql.onboarding.mutations import OnboardingMutation
from app.graphql.onboarding.queries import OnboardingQuery
from app.graphql.progress.mutations import ProgressMutation
from app.graphql.progress.queries import ProgressQuery
from app.graphql.progress.reports import ReportsQuery
from app.graphql.realtime.ably import AblyMutation
from app.graphql.realtime.subscriptions import RealtimeSubscription
from app.graphql.relay import MAX_PAGE_SIZE, Node, bad_input
from app.graphql.rewards.mutations import RewardsMutation
from app.graphql.rewards.queries import RewardsQuery
from app.graphql.scalars import SCALAR_MAP
from app.graphql.tenancy.mutations import TenancyMutation
from app.graphql.tenancy.queries import TenancyQuery
from app.graphql.tenancy.users import UserQuery
from app.graphql.webhooks.mutations import WebhooksMutation
from app.graphql.webhooks.queries import WebhooksQuery


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null if it does not exist or is not visible.")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")]
    ) -> Node | None:
        await info.context.viewer()
        return await resolve_node(info, id)  # type: ignore[no-any-return]

    @strawberry.field(description="Objects by global id, in the order asked; null for each one not visible.")
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="At most 100 global ids.")],
    ) -> list[Node | None]:
        await info.context.viewer()
        if len(ids) > MAX_PAGE_SIZE:
            raise bad_input(f"at most {MAX_PAGE_SIZE} ids", "ids")
        return [await resolve_node(info, i) for i in ids]


Query = merge_types(
    "Query",
    (
        NodeQuery,
        TenancyQuery,
        UserQuery,
        CatalogQuery,
        ProgressQuery,
        ReportsQuery,
        RewardsQuery,
        OnboardingQuery,
        AvatarsQuery,
        WebhooksQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        TenancyMutation,
        CatalogMutation,
        ProgressMutation,
        RewardsMutation,
        OnboardingMutation,
        OnboardingAuthoringMutation,
        AblyMutation,
        AvatarsMutation,
        WebhooksMutation,
    ),
)

Subscription = merge_types("Subscription", (RealtimeSubscription,))


class CloseSession(SchemaExtension):
    """Returns the operation's connection to the pool when the operation ends."""

    async def on_operation(self):  # type: ignore[no-untyped-def]
        yield
        context = self.execution_context.context
        if isinstance(context, Context):
            await context.settle()  # the viewer's sighting, written alongside the operation
        db = getattr(context, "db", None)
        if db is not None and getattr(context, "connection_params", None) is None:
            await db.close()
        elif db is not None:
            # A websocket's context outlives its operations (and may serve several at once):
            # hand it a fresh session, closing this one once no other operation is using it.
            await context.renew()


log = logging.getLogger("app.graphql")


class JourneysSchema(strawberry.Schema):
    """Strawberry's schema, minus its habit of logging every error of a response at ERROR
    with a traceback: most are the client's (bad input, a missing credential, NOT_FOUND) and
    are answers, not faults. Unexpected failures are logged where ErrorShaping masks them,
    at ERROR, with the request id and the traceback. ``documents`` is its document cache."""

    documents: DocumentCache

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            log.debug("error in the response: %s", error.message)


def create_schema(
    *, introspection: bool = True, hide_suggestions: bool = False, compiled: bool = True
) -> JourneysSchema:
    """The Journeys schema with its limits, document cache and error shaping.

    ``compiled`` runs queries through their compiled plans (app/graphql/execution); off,
    graphql-core executes every operation (the differential test compares the two).
    ``hide_suggestions`` (production) keeps validation messages from naming fields,
    arguments or types the client did not ask for ("Did you mean …?").
    """
    rules = [] if introspection else [NoSchemaIntrospectionCustomRule]
    # One cache per schema, shared by its requests (a fresh extension per request holds the
    # request's state).
    cache = DocumentCache()
    built = JourneysSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=CompiledExecutor if compiled else None,
        extensions=[
            ObserveOperation,  # first: counts, times and traces everything the others do
            ErrorShaping,
            LogOperation,
            CloseSession,
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: Documents(cache, extra_rules=rules, hide_suggestions=hide_suggestions),
        ],
    )
    built.documents = cache
    describe(built._schema)
    return built


schema = create_schema()
