"""The onboarding report's GraphQL types (figures computed by app/onboarding/report.py; the figures
shared with the journey report: app/graphql/progress/reports.py)."""

from __future__ import annotations

import strawberry

from app.graphql.onboarding.types import OnboardingStepNode
from app.graphql.progress.reports import RunReportFigures
from app.onboarding.report import Report


@strawberry.type(description="Figures of one step in an onboarding report.")
class OnboardingStepFigures:
    step: OnboardingStepNode = strawberry.field(description="The step.")
    reached: int = strawberry.field(description="Runs that started this step.")
    completed: int = strawberry.field(description="Runs that completed it.")
    drop_off: int = strawberry.field(
        description="Runs that reached it, did not complete it and are no longer open on it."
    )


@strawberry.type(description="How users went through an onboarding, over runs started in a period.")
class OnboardingReport(RunReportFigures):
    steps: list[OnboardingStepFigures] = strawberry.field(
        description="Per step of the onboarding's latest published version, in order; empty for the whole tenant."
    )

    @classmethod
    def from_report(cls, report: Report) -> OnboardingReport:
        return cls.figures_of(
            report,
            steps=[
                OnboardingStepFigures(
                    step=OnboardingStepNode.from_model(s.step),
                    reached=s.reached,
                    completed=s.completed,
                    drop_off=s.drop_off,
                )
                for s in report.steps
            ],
        )
