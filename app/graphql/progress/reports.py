"""The journey report (admins), and the figures every run report shares (the onboarding report's
type, app/graphql/onboarding/report.py, extends them); figures computed by app/progress/report.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

import strawberry

from app.errors import NotFound
from app.graphql.catalog.types import JourneyEventNode
from app.graphql.context import Info
from app.graphql.relay import local_id
from app.progress import report
from app.reports.runs import RunFigures

ReportFrom = Annotated[
    datetime | None, strawberry.argument(name="from", description="Only runs started at or after this instant.")
]
ReportTo = Annotated[datetime | None, strawberry.argument(description="Only runs started before this instant.")]


@strawberry.type(description="Figures shared by the reports on runs (not in the schema itself).")
class RunReportFigures:
    total: int = strawberry.field(description="Runs started in the period.")
    active: int = strawberry.field(description="Of them, ACTIVE now.")
    suspended: int = strawberry.field(description="Of them, SUSPENDED now.")
    completed: int = strawberry.field(description="Of them, COMPLETED.")
    abandoned: int = strawberry.field(description="Of them, ABANDONED.")
    completion_rate: float = strawberry.field(description="completed / total (0 when there are none).")
    median_seconds_to_complete: float | None = strawberry.field(
        description="The median time from start to completion of the completed runs; null when none."
    )
    average_progress: float = strawberry.field(
        description=(
            "The mean of the runs' percent done, 0..100 (each run over the items of its own version, "
            "not rounded; 0 when there are none)."
        )
    )

    @classmethod
    def figures_of(cls, figures: RunFigures, **more: Any) -> Self:
        """The type with the shared figures of ``figures`` and its own ``more``."""
        return cls(
            total=figures.total,
            active=figures.active,
            suspended=figures.suspended,
            completed=figures.completed,
            abandoned=figures.abandoned,
            completion_rate=figures.completion_rate,
            median_seconds_to_complete=figures.median_seconds_to_complete,
            average_progress=figures.average_progress,
            **more,
        )


@strawberry.type(description="Figures of one event in a journey report.")
class JourneyEventFigures:
    event: JourneyEventNode = strawberry.field(description="The event, as in the journey's latest version.")
    reached: int = strawberry.field(description="Runs that started or completed this event.")
    completed: int = strawberry.field(description="Runs that completed it.")
    drop_off: int = strawberry.field(
        description="Runs that reached it, did not complete it and are no longer ACTIVE or SUSPENDED."
    )


@strawberry.type(description="How users went through a journey, over runs started in a period.")
class JourneyReport(RunReportFigures):
    events: list[JourneyEventFigures] = strawberry.field(
        description="Per event of the journey's latest published version, in order."
    )

    @classmethod
    def from_report(cls, figures: report.JourneyReport) -> JourneyReport:
        return cls.figures_of(
            figures,
            events=[
                JourneyEventFigures(
                    event=JourneyEventNode.from_model(e.event),
                    reached=e.reached,
                    completed=e.completed,
                    drop_off=e.drop_off,
                )
                for e in figures.events
            ],
        )


@strawberry.type
class ReportsQuery:
    @strawberry.field(
        description="Admins: how users went through a journey, over the runs started in [from, to); null if unknown."
    )
    async def journey_report(
        self,
        info: Info,
        journey_id: Annotated[strawberry.ID, strawberry.argument(description="The journey's id.")],
        from_: ReportFrom = None,
        to: ReportTo = None,
    ) -> JourneyReport | None:
        viewer = await info.context.admin()
        key = local_id(journey_id, "Journey")
        if key is None:
            return None
        async with info.context.db.read() as session:
            try:
                figures = await report.journey_report(
                    session, tenant_id=viewer.tenant_id, journey_id=key, started_from=from_, started_to=to
                )
            except NotFound:
                return None
        return JourneyReport.from_report(figures)
