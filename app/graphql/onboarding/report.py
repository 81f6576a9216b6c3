"""The onboarding report's GraphQL types (figures computed by app/onboarding/report.py)."""

from __future__ import annotations

import strawberry

from app.graphql.onboarding.types import OnboardingStepNode
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
class OnboardingReport:
    total: int = strawberry.field(description="Runs started in the period.")
    active: int = strawberry.field(description="Of them, ACTIVE now.")
    suspended: int = strawberry.field(description="Of them, SUSPENDED now.")
    completed: int = strawberry.field(description="Of them, COMPLETED.")
    abandoned: int = strawberry.field(description="Of them, ABANDONED.")
    completion_rate: float = strawberry.field(description="completed / total (0 when there are none).")
    median_seconds_to_complete: float | None = strawberry.field(
        description="The median time from start to completion of the completed runs; null when none."
    )
    steps: list[OnboardingStepFigures] = strawberry.field(description="Per step, in order.")

    @classmethod
    def from_report(cls, report: Report) -> OnboardingReport:
        return cls(
            total=report.total,
            active=report.active,
            suspended=report.suspended,
            completed=report.completed,
            abandoned=report.abandoned,
            completion_rate=report.completion_rate,
            median_seconds_to_complete=report.median_seconds_to_complete,
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
