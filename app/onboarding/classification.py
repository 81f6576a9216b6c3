"""Classifying a user's answers to an onboarding's form: validation, scoring, the winner and
the reasons behind it. Pure functions; no database.

Totals are added as decimals of the numbers the admin wrote (``Decimal(str(x))``), so
0.1 + 0.2 ties with 0.3 as a person would expect; they are reported as floats.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from app.errors import DomainError, ErrorCode, Problems
from app.onboarding.forms import Form, Question, QuestionKind, Segment, parse_form

MAX_TEXT = 2000
SCALE_RE = re.compile(r"^-?[0-9]{1,12}$")
_DECIMAL = Context(prec=60)


@dataclass(frozen=True)
class Response:
    """A user's answer to one question."""

    question_key: str
    values: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The stored form (``Classification.responses`` items)."""
        return {"questionKey": self.question_key, "values": list(self.values)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Response:
        """The response of a stored ``{"questionKey", "values"}`` dict."""
        return cls(question_key=data["questionKey"], values=tuple(data["values"]))


@dataclass(frozen=True)
class Reason:
    """One answer's non-zero contribution to one segment's total."""

    question_key: str
    value: str
    segment_key: str
    points: float


@dataclass(frozen=True)
class Outcome:
    """The winning segment, every segment's total (in the form's order) and why."""

    segment: Segment
    scores: tuple[tuple[str, float], ...]
    reasons: tuple[Reason, ...]
    insight: str
    recommended_journey_ids: tuple[uuid.UUID, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict, as stored in ``Classification.result``."""
        return {
            "segment": self.segment.to_json(),
            "scores": [{"segmentKey": key, "score": score} for key, score in self.scores],
            "reasons": [
                {"questionKey": r.question_key, "value": r.value, "segmentKey": r.segment_key, "points": r.points}
                for r in self.reasons
            ],
            "insight": self.insight,
            "recommendedJourneys": [str(journey_id) for journey_id in self.recommended_journey_ids],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        """The outcome of a stored ``to_json()`` dict."""
        return cls(
            segment=Segment.from_json(data["segment"]),
            scores=tuple((s["segmentKey"], float(s["score"])) for s in data["scores"]),
            reasons=tuple(
                Reason(r["questionKey"], r["value"], r["segmentKey"], float(r["points"])) for r in data["reasons"]
            ),
            insight=data["insight"],
            recommended_journey_ids=tuple(uuid.UUID(journey_id) for journey_id in data["recommendedJourneys"]),
        )


def classify(form: Mapping[str, Any] | None, responses: Sequence[Response]) -> Outcome:
    """Validate ``responses`` against a canonical form and classify them.

    Raises DomainError BAD_USER_INPUT (field ``onboardingId``) when the form has no questions
    or no segments, and InvalidInput listing every problem under ``responses`` otherwise.
    """
    parsed = parse_form(form or {})
    if not parsed.questions or not parsed.segments:
        raise DomainError(
            ErrorCode.BAD_USER_INPUT,
            "this onboarding has no classification form to answer",
            field=["onboardingId"],
        )
    answers = _validate(parsed, responses)
    totals = {segment.key: Decimal(0) for segment in parsed.segments}
    reasons: list[Reason] = []
    for question in parsed.questions:
        for value, points in _contributions(question, answers.get(question.key, ())):
            for segment in parsed.segments:
                earned = points.get(segment.key)
                if earned is None or earned == 0:
                    continue
                totals[segment.key] = _DECIMAL.add(totals[segment.key], earned)
                reasons.append(Reason(question.key, value, segment.key, _float(earned)))
    # max() keeps the first of equal totals: order by the tie-breakers first.
    by_precedence = sorted(parsed.segments, key=lambda s: (s.priority, s.key))
    winner = max(by_precedence, key=lambda s: totals[s.key])
    return Outcome(
        segment=winner,
        scores=tuple((segment.key, _float(totals[segment.key])) for segment in parsed.segments),
        reasons=tuple(reasons),
        insight=winner.insight,
        recommended_journey_ids=winner.recommended_journeys,
    )


def _validate(form: Form, responses: Sequence[Response]) -> dict[str, tuple[str, ...]]:
    """Every answer by question key; raises InvalidInput with every problem at once."""
    problems = Problems("responses")
    questions = {question.key: question for question in form.questions}
    answers: dict[str, tuple[str, ...]] = {}
    for i, response in enumerate(responses):
        path = (str(i),)
        question = questions.get(response.question_key)
        if question is None:
            problems.add((*path, "questionKey"), f"unknown question `{response.question_key}`")
            continue
        if question.key in answers:
            problems.add((*path, "questionKey"), f"question `{question.key}` is answered more than once")
            continue
        answers[question.key] = response.values
        _check_values(problems, path, question, response.values)
    for question in form.questions:
        if question.required and question.key not in answers:
            problems.add(question.key, "this question requires an answer")
    problems.raise_if_any()
    return answers


def _check_values(problems: Problems, path: tuple[str, ...], question: Question, values: tuple[str, ...]) -> None:
    if question.kind is QuestionKind.MULTI_CHOICE:
        if not values or len(set(values)) != len(values):
            problems.add((*path, "values"), "choose one or more different options")
    elif len(values) != 1:
        problems.add((*path, "values"), "give exactly one value")
    options = {option.value for option in question.options}
    for j, value in enumerate(values):
        field = (*path, "values", str(j))
        if question.kind.is_choice and value not in options:
            problems.add(field, f"`{value}` is not an option of `{question.key}`")
        elif question.kind is QuestionKind.SCALE and not _on_scale(question, value):
            problems.add(field, f"must be a whole number from {question.min} to {question.max}")
        elif question.kind is QuestionKind.TEXT:
            if len(value) > MAX_TEXT:
                problems.add(field, f"must be at most {MAX_TEXT} characters")
            elif question.required and not value.strip():
                problems.add(field, "this question requires an answer")


def _on_scale(question: Question, value: str) -> bool:
    assert question.min is not None and question.max is not None
    return bool(SCALE_RE.match(value)) and question.min <= int(value) <= question.max


def _contributions(question: Question, values: tuple[str, ...]) -> list[tuple[str, dict[str, Decimal]]]:
    """Each answered value with the points it earns per segment, in the form's option order."""
    if question.kind.is_choice:
        chosen = set(values)
        return [
            (option.value, {key: _decimal(points) for key, points in option.scores.items()})
            for option in question.options
            if option.value in chosen
        ]
    if question.kind is QuestionKind.SCALE and values:
        step = Decimal(int(values[0]))
        return [(values[0], {key: _DECIMAL.multiply(step, _decimal(w)) for key, w in question.weights.items()})]
    return []


def _decimal(number: int | float) -> Decimal:
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


def _float(number: Decimal) -> float:
    return float(number)
