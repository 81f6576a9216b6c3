"""GraphQL types of classification forms: the questions and segments, their inputs, answers,
and the results classifying answers produces."""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Any

import strawberry

from app.catalog.models import JourneyStatus
from app.graphql.catalog.types import JourneyNode
from app.graphql.context import Info
from app.graphql.relay import parse_global_id
from app.graphql.scalars import JSON
from app.onboarding.classification import Outcome, Response


@strawberry.enum(description="How a form question is answered.")
class QuestionKind(Enum):
    SINGLE_CHOICE = strawberry.enum_value("SINGLE_CHOICE", description="Exactly one of the options.")
    MULTI_CHOICE = strawberry.enum_value("MULTI_CHOICE", description="One or more of the options.")
    SCALE = strawberry.enum_value("SCALE", description="One whole number from `min` to `max`.")
    TEXT = strawberry.enum_value("TEXT", description="Free text (scores nothing).")


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


def _journey_key(value: str) -> str:
    """A recommended journey as the form stores it: the journey's UUID (anything else is left
    for the form's validation to reject)."""
    parsed = parse_global_id(value)
    return str(parsed[1]) if parsed is not None and parsed[0] == "Journey" else value


def form_input(value: ClassificationFormInput) -> dict[str, Any]:
    """The form input as the authoring service validates it."""
    return {
        "questions": [
            {
                "key": q.key,
                "prompt": q.prompt,
                "kind": q.kind.value,
                **({"required": q.required} if q.required is not None else {}),
                **(
                    {
                        "options": [
                            {
                                "value": o.value,
                                "label": o.label,
                                **({"scores": o.scores} if o.scores is not None else {}),
                            }
                            for o in q.options
                        ]
                    }
                    if q.options is not None
                    else {}
                ),
                **({"min": q.min} if q.min is not None else {}),
                **({"max": q.max} if q.max is not None else {}),
                **({"weights": q.weights} if q.weights is not None else {}),
            }
            for q in value.questions
        ],
        "segments": [
            {
                "key": s.key,
                "name": s.name,
                **({"description": s.description} if s.description is not None else {}),
                **({"insight": s.insight} if s.insight is not None else {}),
                **(
                    {"recommendedJourneys": [_journey_key(j) for j in s.recommended_journeys]}
                    if s.recommended_journeys is not None
                    else {}
                ),
                **({"priority": s.priority} if s.priority is not None else {}),
            }
            for s in value.segments
        ],
    }


def responses_of(responses: list[FormResponseInput]) -> list[Response]:
    """Form responses as the classifier takes them."""
    return [Response(question_key=r.question_key, values=tuple(r.values)) for r in responses]
