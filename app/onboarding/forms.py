"""The classification form of an onboarding: the canonical dict stored in ``Onboarding.form``
(validated on write by app/onboarding/form_input.py) and typed views of it.

Canonical shape (every key always present)::

    {"questions": [{"key", "prompt", "kind", "required", "options": [{"value", "label", "scores"}],
                    "min", "max", "weights"}],
     "segments": [{"key", "name", "description", "insight", "recommendedJourneys", "priority"}]}
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class QuestionKind(str, Enum):
    """How a question is answered."""

    SINGLE_CHOICE = "SINGLE_CHOICE"
    MULTI_CHOICE = "MULTI_CHOICE"
    SCALE = "SCALE"
    TEXT = "TEXT"

    @property
    def is_choice(self) -> bool:
        return self in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTI_CHOICE)


@dataclass(frozen=True)
class Option:
    """A choice of a choice question and the points it gives each segment."""

    value: str
    label: str
    scores: Mapping[str, int | float]


@dataclass(frozen=True)
class Question:
    """One question of the form."""

    key: str
    prompt: str
    kind: QuestionKind
    required: bool
    options: tuple[Option, ...]
    min: int | None
    max: int | None
    weights: Mapping[str, int | float]


@dataclass(frozen=True)
class Segment:
    """One segment users are classified into."""

    key: str
    name: str
    description: str
    insight: str
    recommended_journeys: tuple[uuid.UUID, ...]
    priority: int

    def to_json(self) -> dict[str, Any]:
        """The canonical dict of this segment."""
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "insight": self.insight,
            "recommendedJourneys": [str(journey_id) for journey_id in self.recommended_journeys],
            "priority": self.priority,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Segment:
        """The segment of a canonical dict."""
        return cls(
            key=data["key"],
            name=data["name"],
            description=data["description"],
            insight=data["insight"],
            recommended_journeys=tuple(uuid.UUID(journey_id) for journey_id in data["recommendedJourneys"]),
            priority=data["priority"],
        )


@dataclass(frozen=True)
class Form:
    """A typed view of a canonical form."""

    questions: tuple[Question, ...]
    segments: tuple[Segment, ...]


def parse_form(form: Mapping[str, Any]) -> Form:
    """The typed view of a canonical (already cleaned) form dict."""
    questions = tuple(
        Question(
            key=q["key"],
            prompt=q["prompt"],
            kind=QuestionKind(q["kind"]),
            required=q["required"],
            options=tuple(Option(o["value"], o["label"], dict(o["scores"])) for o in q["options"]),
            min=q["min"],
            max=q["max"],
            weights=dict(q["weights"]),
        )
        for q in form.get("questions", [])
    )
    return Form(questions=questions, segments=tuple(Segment.from_json(s) for s in form.get("segments", [])))


def recommended_journey_ids(form: Mapping[str, Any] | None) -> set[uuid.UUID]:
    """Every journey any segment of a canonical form recommends (the caller checks they exist)."""
    if not form:
        return set()
    return {
        uuid.UUID(journey_id) for segment in form.get("segments", []) for journey_id in segment["recommendedJourneys"]
    }
