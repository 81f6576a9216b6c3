"""Onboarding queries: published onboardings, the viewer's runs and classifications, the
classification preview; admins list every run and read the report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from app.errors import NotFound
from app.graphql.context import Info
from app.graphql.onboarding.forms import ClassificationResult, FormResponseInput, responses_of
from app.graphql.onboarding.report import OnboardingReport
from app.graphql.onboarding.types import (
    ClassificationType,
    OnboardingJourneyNode,
    OnboardingNode,
    visible_onboarding,
    visible_onboarding_journey,
)
from app.graphql.progress.reports import ReportFrom, ReportTo
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, PageRequest, local_id
from app.graphql.tenancy.users import UserExternalIdFilter, UserIdFilter, user_filter
from app.onboarding import completion, reads, report
from app.onboarding.classification import classify
from app.onboarding.models import (
    Classification,
    Onboarding,
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingStatus,
)

OnboardingId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding's id.")]
StatusFilter = Annotated[
    OnboardingJourneyStatus | None, strawberry.argument(description="Only onboarding journeys with this status.")
]
NOTHING = uuid.UUID(int=0)


def _created_key(row: Onboarding | Classification) -> tuple[object, ...]:
    return (row.created_at, row.id)


def _started_key(row: OnboardingJourney) -> tuple[object, ...]:
    return (row.started_at, row.id)


def _filter_key(value: strawberry.ID | None, type_name: str) -> uuid.UUID | None:
    """A filter id: its key, or a key that matches nothing for an id that names nothing."""
    return (local_id(value, type_name) or NOTHING) if value is not None else None


async def _onboardings(
    info: Info,
    *,
    list_name: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    statuses: tuple[OnboardingStatus, ...],
) -> Connection[OnboardingNode]:
    viewer = await info.context.viewer()
    request = PageRequest(
        info.context.cursors,
        tenant_id=viewer.tenant_id,
        list_name=list_name,
        first=first,
        after=after,
        last=last,
        before=before,
        filters={"statuses": [s.value for s in statuses]},
    )
    async with info.context.db.read() as session:
        page = await reads.list_onboardings(
            session,
            tenant_id=viewer.tenant_id,
            statuses=statuses,
            window=request.window,
        )
    return request.connection(page, key=_created_key, node=OnboardingNode.from_model)


async def _runs(
    info: Info,
    *,
    list_name: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    user_id: uuid.UUID | None,
    onboarding_id: uuid.UUID | None,
    status: OnboardingJourneyStatus | None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
) -> Connection[OnboardingJourneyNode]:
    viewer = await info.context.viewer()
    request = PageRequest(
        info.context.cursors,
        tenant_id=viewer.tenant_id,
        list_name=list_name,
        first=first,
        after=after,
        last=last,
        before=before,
        filters={
            "user": str(user_id) if user_id else None,
            "onboarding": str(onboarding_id) if onboarding_id else None,
            "status": status.value if status else None,
            "from": started_from.isoformat() if started_from else None,
            "to": started_to.isoformat() if started_to else None,
        },
    )
    async with info.context.db.read() as session:
        page = await reads.list_onboarding_journeys(
            session,
            tenant_id=viewer.tenant_id,
            user_id=user_id,
            onboarding_id=onboarding_id,
            status=status,
            started_from=started_from,
            started_to=started_to,
            window=request.window,
        )
    return request.connection(page, key=_started_key, node=OnboardingJourneyNode.from_model)


@strawberry.type
class OnboardingQuery:
    @strawberry.field(description="The tenant's published onboardings, newest first.")
    async def onboardings(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[OnboardingNode]:
        return await _onboardings(
            info,
            list_name="onboardings",
            first=first,
            after=after,
            last=last,
            before=before,
            statuses=(OnboardingStatus.PUBLISHED,),
        )

    @strawberry.field(description="Admins: every onboarding of the tenant (optionally of one status), newest first.")
    async def admin_onboardings(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: Annotated[OnboardingStatus | None, strawberry.argument(description="Only this status.")] = None,
    ) -> Connection[OnboardingNode]:
        await info.context.admin()
        statuses = (status,) if status else tuple(OnboardingStatus)
        return await _onboardings(
            info,
            list_name="adminOnboardings",
            first=first,
            after=after,
            last=last,
            before=before,
            statuses=statuses,
        )

    @strawberry.field(description="One onboarding: published ones for users, any for admins; else null.")
    async def onboarding(self, info: Info, id: OnboardingId) -> OnboardingNode | None:
        await info.context.viewer()
        key = local_id(id, "Onboarding")
        onboarding = await visible_onboarding(info, key) if key else None
        return OnboardingNode.from_model(onboarding) if onboarding else None

    @strawberry.field(description="One onboarding journey with its logs: the viewer's own (admins: any); else null.")
    async def onboarding_journey(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The onboarding journey's id.")]
    ) -> OnboardingJourneyNode | None:
        await info.context.viewer()
        key = local_id(id, "OnboardingJourney")
        journey = await visible_onboarding_journey(info, key) if key else None
        return OnboardingJourneyNode.from_model(journey) if journey else None

    @strawberry.field(description="The viewer's onboarding journeys, newest started first.")
    async def my_onboarding_journeys(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: StatusFilter = None,
        onboarding_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only runs of this onboarding.")
        ] = None,
    ) -> Connection[OnboardingJourneyNode]:
        viewer = await info.context.viewer()
        return await _runs(
            info,
            list_name="myOnboardingJourneys",
            first=first,
            after=after,
            last=last,
            before=before,
            user_id=viewer.user_id,
            onboarding_id=_filter_key(onboarding_id, "Onboarding"),
            status=status,
        )

    @strawberry.field(description="Admins: the tenant's onboarding journeys, newest started first, filtered.")
    async def onboarding_journeys(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        onboarding_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only runs of this onboarding.")
        ] = None,
        user_id: UserIdFilter = None,
        status: StatusFilter = None,
        started_from: Annotated[
            datetime | None, strawberry.argument(description="Only runs started at or after this instant.")
        ] = None,
        started_to: Annotated[
            datetime | None, strawberry.argument(description="Only runs started before this instant.")
        ] = None,
        user_external_id: UserExternalIdFilter = None,
    ) -> Connection[OnboardingJourneyNode]:
        await info.context.admin()
        user_key = await user_filter(info, user_id=user_id, user_external_id=user_external_id)
        return await _runs(
            info,
            list_name="onboardingJourneys",
            first=first,
            after=after,
            last=last,
            before=before,
            user_id=user_key,
            onboarding_id=_filter_key(onboarding_id, "Onboarding"),
            status=status,
            started_from=started_from,
            started_to=started_to,
        )

    @strawberry.field(
        description=(
            "Admins: how users went through an onboarding (every onboarding of the tenant when "
            "onboardingId is null), over the runs started in [from, to); null if unknown."
        )
    )
    async def onboarding_report(
        self,
        info: Info,
        onboarding_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The onboarding's id; null reports the whole tenant (no steps)."),
        ] = None,
        from_: ReportFrom = None,
        to: ReportTo = None,
    ) -> OnboardingReport | None:
        viewer = await info.context.admin()
        key = None if onboarding_id is None else local_id(onboarding_id, "Onboarding")
        if onboarding_id is not None and key is None:
            return None
        async with info.context.db.read() as session:
            try:
                figures = await report.onboarding_report(
                    session, tenant_id=viewer.tenant_id, onboarding_id=key, started_from=from_, started_to=to
                )
            except NotFound:
                return None
        return OnboardingReport.from_report(figures)

    @strawberry.field(
        description=(
            "Classify answers to a published onboarding's form without storing anything, explaining which "
            "answers earned which points. Invalid answers are BAD_USER_INPUT, each listed in extensions.fields."
        )
    )
    async def preview_classification(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        responses: Annotated[list[FormResponseInput], strawberry.argument(description="The answers.")],
    ) -> ClassificationResult:
        await info.context.viewer()
        key = local_id(onboarding_id, "Onboarding")
        onboarding = await visible_onboarding(info, key) if key else None
        if onboarding is None:
            raise NotFound("Onboarding", field=["onboardingId"])
        return ClassificationResult.from_outcome(classify(onboarding.form or {}, responses_of(responses)))

    @strawberry.field(description="The viewer's classifications, newest first (the first is `viewer.classification`).")
    async def my_classifications(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ClassificationType]:
        viewer = await info.context.viewer()
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name=f"myClassifications:{viewer.user_id}",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={},
        )
        async with info.context.db.read() as session:
            page = await completion.classification_history(
                session, tenant_id=viewer.tenant_id, user_id=viewer.user_id, window=request.window
            )
        return request.connection(page, key=_created_key, node=ClassificationType.from_model)
