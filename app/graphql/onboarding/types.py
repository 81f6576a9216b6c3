"""GraphQL types of onboarding: definitions with steps and a classification form, users'
onboarding journeys with their logs, classifications and the admin report."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from app.catalog.models import JourneyStatus
from app.graphql.catalog.types import JourneyNode
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_type
from app.graphql.progress.types import JourneyInstanceNode
from app.graphql.relay import Node, to_global_id
from app.graphql.scalars import JSON
from app.onboarding.classification import Outcome
from app.onboarding.models import (
    Classification,
    Onboarding,
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingLog,
    OnboardingStatus,
    OnboardingStep,
)
from app.onboarding.report import Report

OnboardingStatusEnum = strawberry.enum(
    OnboardingStatus,
    name="OnboardingStatus",
    description="DRAFT while authored, PUBLISHED for users, ARCHIVED when withdrawn.",
)
OnboardingJourneyStatusEnum = strawberry.enum(
    OnboardingJourneyStatus,
    name="OnboardingJourneyStatus",
    description="ACTIVE while under way, SUSPENDED while paused, then COMPLETED or ABANDONED.",
)


@strawberry.enum(description="How a form question is answered.")
class QuestionKind(Enum):
    SINGLE_CHOICE = strawberry.enum_value("SINGLE_CHOICE", description="Exactly one of the options.")
    MULTI_CHOICE = strawberry.enum_value("MULTI_CHOICE", description="One or more of the options.")
    SCALE = strawberry.enum_value("SCALE", description="One whole number from `min` to `max`.")
    TEXT = strawberry.enum_value("TEXT", description="Free text (scores nothing).")


@strawberry.type(name="OnboardingStep", description="One step of an onboarding.")
class OnboardingStepNode(Node):
    order: int = strawberry.field(description="1..n within the onboarding.")
    name: str = strawberry.field(description="Short name.")
    description: str = strawberry.field(description="What the step is about.")
    metadata: JSON = strawberry.field(description="Free-form data for the frontend.")

    @classmethod
    def from_model(cls, step: OnboardingStep) -> OnboardingStepNode:
        return cls(
            id=to_global_id("OnboardingStep", step.id),
            order=step.position,
            name=step.name,
            description=step.description,
            metadata=JSON(step.metadata_),
        )


@strawberry.type(description="A possible answer to a choice question.")
class FormOption:
    value: str = strawberry.field(description="The value a response sends.")
    label: str = strawberry.field(description="What the user sees.")
    scores: JSON = strawberry.field(description="Points this answer gives each segment: `{segmentKey: points}`.")


@strawberry.type(description="A question of a classification form.")
class FormQuestion:
    key: str = strawberry.field(description="The key a response names (`questionKey`).")
    prompt: str = strawberry.field(description="The question as shown.")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    required: bool = strawberry.field(description="Whether completing the onboarding needs an answer.")
    options: list[FormOption] = strawberry.field(description="The options of a choice question (empty otherwise).")
    min: int | None = strawberry.field(description="The smallest answer of a SCALE question.")
    max: int | None = strawberry.field(description="The largest answer of a SCALE question.")
    weights: JSON = strawberry.field(
        description="For SCALE: points per unit of the answer for each segment, `{segmentKey: weight}`."
    )


async def _visible_journeys(info: Info, ids: list[str]) -> list[JourneyNode]:
    viewer = await info.context.viewer()
    journeys = await info.context.loaders.journey.load_many([uuid.UUID(i) for i in ids])
    return [
        JourneyNode.from_model(j)
        for j in journeys
        if j is not None and (viewer.is_admin or j.status is JourneyStatus.PUBLISHED)
    ]


@strawberry.type(description="A group users are classified into.")
class FormSegment:
    key: str = strawberry.field(description="The segment's key.")
    name: str = strawberry.field(description="Display name.")
    description: str = strawberry.field(description="What it means.")
    insight: str = strawberry.field(description="The insight shown to users classified into it.")
    priority: int = strawberry.field(description="Breaks ties between equal scores: the lower priority wins.")
    journey_ids: strawberry.Private[list[str]]

    @strawberry.field(description="Journeys recommended to (and started for) users classified into it.")
    async def recommended_journeys(self, info: Info) -> list[JourneyNode]:
        return await _visible_journeys(info, self.journey_ids)


@strawberry.type(description="The questions and segments that classify users at the end of an onboarding.")
class ClassificationForm:
    questions: list[FormQuestion] = strawberry.field(description="The questions, in order.")
    segments: list[FormSegment] = strawberry.field(description="The segments users may be classified into.")

    @classmethod
    def from_form(cls, form: dict[str, Any]) -> ClassificationForm:
        return cls(
            questions=[
                FormQuestion(
                    key=q["key"],
                    prompt=q["prompt"],
                    kind=QuestionKind(q["kind"]),
                    required=q["required"],
                    options=[
                        FormOption(value=o["value"], label=o["label"], scores=JSON(o["scores"])) for o in q["options"]
                    ],
                    min=q["min"],
                    max=q["max"],
                    weights=JSON(q["weights"]),
                )
                for q in form["questions"]
            ],
            segments=[
                FormSegment(
                    key=s["key"],
                    name=s["name"],
                    description=s["description"],
                    insight=s["insight"],
                    priority=s["priority"],
                    journey_ids=list(s["recommendedJourneys"]),
                )
                for s in form["segments"]
            ],
        )


@strawberry.type(name="Onboarding", description="A step-by-step onboarding flow, optionally ending in a form.")
class OnboardingNode(Node):
    slug: str = strawberry.field(description="A tenant-unique, URL-friendly name.")
    name: str = strawberry.field(description="Display name.")
    description: str = strawberry.field(description="Longer description.")
    status: OnboardingStatus = strawberry.field(description="Authoring status.")
    xp_reward: int = strawberry.field(description="XP awarded once when a user completes it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    published_at: datetime | None = strawberry.field(description="When it was last published.")
    form: ClassificationForm | None = strawberry.field(description="Its classification form, if it has one.")
    model: strawberry.Private[Onboarding]

    @strawberry.field(description="The steps in order.")
    async def steps(self, info: Info) -> list[OnboardingStepNode]:
        steps = await info.context.loaders.steps_of_onboarding.load(self.model.id)
        return [OnboardingStepNode.from_model(s) for s in steps]

    @classmethod
    def from_model(cls, onboarding: Onboarding) -> OnboardingNode:
        return cls(
            id=to_global_id("Onboarding", onboarding.id),
            slug=onboarding.slug,
            name=onboarding.name,
            description=onboarding.description,
            status=onboarding.status,
            xp_reward=onboarding.xp_reward,
            created_at=onboarding.created_at,
            published_at=onboarding.published_at,
            form=ClassificationForm.from_form(onboarding.form) if onboarding.form else None,
            model=onboarding,
        )


async def visible_onboarding(info: Info, key: uuid.UUID) -> Onboarding | None:
    """An onboarding the viewer may see: published for users, any for admins."""
    viewer = await info.context.viewer()
    onboarding = await info.context.loaders.onboarding.load(key)
    if onboarding is None or (not viewer.is_admin and onboarding.status is not OnboardingStatus.PUBLISHED):
        return None
    return onboarding


@node_type("Onboarding")
async def onboarding_node(info: Info, key: uuid.UUID) -> OnboardingNode | None:
    onboarding = await visible_onboarding(info, key)
    return OnboardingNode.from_model(onboarding) if onboarding else None


@node_type("OnboardingStep")
async def onboarding_step_node(info: Info, key: uuid.UUID) -> OnboardingStepNode | None:
    step = await info.context.loaders.onboarding_step.load(key)
    if step is None or await visible_onboarding(info, step.onboarding_id) is None:
        return None
    return OnboardingStepNode.from_model(step)


@strawberry.type(name="OnboardingProgress", description="How far an onboarding journey is.")
class OnboardingProgressType:
    percent: int = strawberry.field(description="Whole percent of steps completed, rounded down.")
    completed_steps: list[int] = strawberry.field(description="The orders of the steps completed.")
    total_steps: int = strawberry.field(description="Steps in the onboarding.")
    current_step: int = strawberry.field(description="The order of the step the user is on.")


@strawberry.type(name="OnboardingLog", description="An entry of an onboarding journey's history.")
class OnboardingLogType:
    step_id: strawberry.ID | None = strawberry.field(description="The step's id; null once the step was removed.")
    step_name: str = strawberry.field(description="The step's name when logged.")
    step_order: int = strawberry.field(description="The step's order when logged.")
    action: str = strawberry.field(
        description="`started`, `completed`, `suspended`, `resumed`, `abandoned`, or an action the client logged."
    )
    metadata: JSON = strawberry.field(description="The metadata sent with it.")
    logged_at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def from_model(cls, entry: OnboardingLog) -> OnboardingLogType:
        return cls(
            step_id=to_global_id("OnboardingStep", entry.step_id) if entry.step_id else None,
            step_name=entry.step_name,
            step_order=entry.step_order,
            action=entry.action,
            metadata=JSON(entry.metadata_),
            logged_at=entry.logged_at,
        )


@strawberry.type(name="OnboardingJourney", description="One user's run through an onboarding.")
class OnboardingJourneyNode(Node):
    user_id: strawberry.ID = strawberry.field(description="The global id of the user whose run it is.")
    current_step: int = strawberry.field(description="The order of the step the user is on.")
    status: OnboardingJourneyStatus = strawberry.field(description="ACTIVE, SUSPENDED, COMPLETED or ABANDONED.")
    started_at: datetime = strawberry.field(description="When it was started.")
    suspended_at: datetime | None = strawberry.field(description="When it was suspended, while it is.")
    completed_at: datetime | None = strawberry.field(description="When it was completed.")
    metadata: JSON = strawberry.field(description="The metadata sent when it was started.")
    model: strawberry.Private[OnboardingJourney]

    @strawberry.field(description="The onboarding it is a run of.")
    async def onboarding(self, info: Info) -> OnboardingNode:
        onboarding = await info.context.loaders.onboarding.load(self.model.onboarding_id)
        assert onboarding is not None  # a run's onboarding is never deleted
        return OnboardingNode.from_model(onboarding)

    @strawberry.field(description="The step the user is on (null if the onboarding has no step at that order now).")
    async def current_step_detail(self, info: Info) -> OnboardingStepNode | None:
        step = await info.context.loaders.current_step.load(self.model.id)
        return OnboardingStepNode.from_model(step) if step else None

    @strawberry.field(description="Steps completed out of all.")
    async def progress(self, info: Info) -> OnboardingProgressType:
        found = await info.context.loaders.onboarding_progress.load(self.model.id)
        assert found is not None  # every run of the tenant has its progress
        return OnboardingProgressType(
            percent=found.percent,
            completed_steps=list(found.completed_steps),
            total_steps=found.total_steps,
            current_step=found.current_step,
        )

    @strawberry.field(description="Its history, oldest first.")
    async def logs(self, info: Info) -> list[OnboardingLogType]:
        entries = await info.context.loaders.onboarding_logs.load(self.model.id)
        return [OnboardingLogType.from_model(e) for e in entries]

    @classmethod
    def from_model(cls, journey: OnboardingJourney) -> OnboardingJourneyNode:
        return cls(
            id=to_global_id("OnboardingJourney", journey.id),
            user_id=to_global_id("User", journey.user_id),
            current_step=journey.current_step,
            status=journey.status,
            started_at=journey.started_at,
            suspended_at=journey.suspended_at,
            completed_at=journey.completed_at,
            metadata=JSON(journey.metadata_),
            model=journey,
        )


async def visible_onboarding_journey(info: Info, key: uuid.UUID) -> OnboardingJourney | None:
    """A run the viewer may see: their own, or any of the tenant's for admins."""
    viewer = await info.context.viewer()
    journey = await info.context.loaders.onboarding_journey.load(key)
    if journey is None or (journey.user_id != viewer.user_id and not viewer.is_admin):
        return None
    return journey


@node_type("OnboardingJourney")
async def onboarding_journey_node(info: Info, key: uuid.UUID) -> OnboardingJourneyNode | None:
    journey = await visible_onboarding_journey(info, key)
    return OnboardingJourneyNode.from_model(journey) if journey else None


@strawberry.type(description="The segment a classification chose.")
class ClassifiedSegment:
    key: str = strawberry.field(description="The segment's key.")
    name: str = strawberry.field(description="Display name.")
    description: str = strawberry.field(description="What it means.")


@strawberry.type(description="A segment's total score.")
class SegmentScore:
    segment_key: str = strawberry.field(description="The segment.")
    score: float = strawberry.field(description="Its total points.")


@strawberry.type(description="Why a segment got points: one answer's contribution.")
class ClassificationReason:
    question_key: str = strawberry.field(description="The question answered.")
    value: str = strawberry.field(description="The answer given.")
    segment_key: str = strawberry.field(description="The segment it gave points to.")
    points: float = strawberry.field(description="How many (negative ones count against).")


@strawberry.type(description="The outcome of classifying a set of answers.")
class ClassificationResult:
    segment: ClassifiedSegment = strawberry.field(description="The winning segment (highest score).")
    scores: list[SegmentScore] = strawberry.field(description="Every segment's total, in the form's order.")
    reasons: list[ClassificationReason] = strawberry.field(description="Which answers earned which points.")
    insight: str = strawberry.field(description="The winning segment's insight.")
    journey_ids: strawberry.Private[list[str]]

    @strawberry.field(description="The winning segment's recommended journeys.")
    async def recommended_journeys(self, info: Info) -> list[JourneyNode]:
        return await _visible_journeys(info, self.journey_ids)

    @staticmethod
    def fields_of(outcome: Outcome) -> dict[str, Any]:
        segment = outcome.segment
        return {
            "segment": ClassifiedSegment(key=segment.key, name=segment.name, description=segment.description),
            "scores": [SegmentScore(segment_key=key, score=score) for key, score in outcome.scores],
            "reasons": [
                ClassificationReason(
                    question_key=r.question_key, value=r.value, segment_key=r.segment_key, points=r.points
                )
                for r in outcome.reasons
            ],
            "insight": outcome.insight,
            "journey_ids": [str(i) for i in outcome.recommended_journey_ids],
        }

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> ClassificationResult:
        return cls(**cls.fields_of(outcome))


@strawberry.type(description="An answer to one form question.")
class FormResponse:
    question_key: str = strawberry.field(description="The question.")
    values: list[str] = strawberry.field(description="The answer's values.")


@strawberry.type(
    name="Classification", description="A user's stored classification: their answers and the result they earned."
)
class ClassificationType(ClassificationResult):
    id: strawberry.ID = strawberry.field(description="The classification's id.")
    responses: list[FormResponse] = strawberry.field(description="The answers given.")
    classified_at: datetime = strawberry.field(description="When it was made.")
    onboarding_key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The onboarding whose form it answered.")
    async def onboarding(self, info: Info) -> OnboardingNode | None:
        onboarding = await info.context.loaders.onboarding.load(self.onboarding_key)
        return OnboardingNode.from_model(onboarding) if onboarding else None

    @classmethod
    def from_model(cls, row: Classification) -> ClassificationType:
        return cls(
            id=to_global_id("Classification", row.id),
            responses=[FormResponse(question_key=r["questionKey"], values=list(r["values"])) for r in row.responses],
            classified_at=row.created_at,
            onboarding_key=row.onboarding_id,
            **ClassificationResult.fields_of(Outcome.from_json(row.result)),
        )


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


@strawberry.type(description="The result of an onboarding mutation.")
class OnboardingPayload:
    onboarding: OnboardingNode | None = strawberry.field(description="The onboarding; null when it failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of an onboarding-step mutation.")
class OnboardingStepPayload:
    step: OnboardingStepNode | None = strawberry.field(
        description="The step (for removeOnboardingStep: as it was); null when it failed."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of an onboarding-journey mutation.")
class OnboardingJourneyPayload:
    onboarding_journey: OnboardingJourneyNode | None = strawberry.field(
        description="The onboarding journey; null when it failed."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of completing an onboarding with its form.")
class CompleteOnboardingPayload:
    classification: ClassificationType | None = strawberry.field(
        description="The stored classification; null when it failed."
    )
    onboarding_journey: OnboardingJourneyNode | None = strawberry.field(
        description="The completed onboarding journey; null when it failed."
    )
    started_journeys: list[JourneyInstanceNode] = strawberry.field(
        description="Recommended journeys this call started (those already active are left as they are)."
    )
    xp_awarded: int = strawberry.field(description="XP this call awarded (0 on a retry).")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.input(description="Onboarding fields. On create, `slug` and `name` are required.")
class OnboardingInput:
    slug: str | None = strawberry.field(
        default=strawberry.UNSET, description="Tenant-unique slug: lowercase words joined by hyphens."
    )
    name: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 10,000 characters.")
    xp_reward: int | None = strawberry.field(
        default=strawberry.UNSET, description="XP for completing it, 0..1,000,000. Default 0."
    )


@strawberry.input(description="Onboarding-step fields. On add, `name` is required.")
class OnboardingStepInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 10,000 characters.")
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Free-form JSON object for the frontend, at most 16 KiB."
    )


@strawberry.input(description="A possible answer to a choice question.")
class FormOptionInput:
    value: str = strawberry.field(description="1-64 characters, unique within the question.")
    label: str = strawberry.field(description="1-200 characters.")
    scores: JSON | None = strawberry.field(
        default=None, description="Points per segment, `{segmentKey: points}`; default none."
    )


@strawberry.input(description="A question of a classification form.")
class FormQuestionInput:
    key: str = strawberry.field(description="Lowercase key, unique within the form.")
    prompt: str = strawberry.field(description="1-500 characters.")
    kind: QuestionKind = strawberry.field(description="How it is answered.")
    required: bool | None = strawberry.field(default=None, description="Whether an answer is needed; default false.")
    options: list[FormOptionInput] | None = strawberry.field(
        default=None, description="At least two options for choice questions; none otherwise."
    )
    min: int | None = strawberry.field(default=None, description="SCALE: the smallest answer.")
    max: int | None = strawberry.field(default=None, description="SCALE: the largest answer.")
    weights: JSON | None = strawberry.field(
        default=None, description="SCALE: points per unit of the answer, `{segmentKey: weight}`."
    )


@strawberry.input(description="A segment of a classification form.")
class FormSegmentInput:
    key: str = strawberry.field(description="Lowercase key, unique within the form.")
    name: str = strawberry.field(description="Display name.")
    description: str | None = strawberry.field(default=None, description="What it means.")
    insight: str | None = strawberry.field(default=None, description="The insight shown to users classified into it.")
    recommended_journeys: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Ids of the tenant's journeys to recommend (and start on completion)."
    )
    priority: int | None = strawberry.field(default=None, description="Breaks ties: the lower wins. Default 0.")


@strawberry.input(description="A whole classification form; empty lists remove the form.")
class ClassificationFormInput:
    questions: list[FormQuestionInput] = strawberry.field(description="The questions, in order.")
    segments: list[FormSegmentInput] = strawberry.field(description="The segments.")


@strawberry.input(description="An answer to one form question.")
class FormResponseInput:
    question_key: str = strawberry.field(description="The question's key.")
    values: list[str] = strawberry.field(
        description="The chosen option values, the scale number, or the text (one value except for MULTI_CHOICE)."
    )
