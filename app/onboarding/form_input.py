"""Validating an admin's classification form input into the canonical dict described in
app/onboarding/forms.py, reporting every problem at once with its path under ``input``."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeGuard

from app.errors import Problems
from app.onboarding.forms import QuestionKind

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_QUESTIONS = 50
MAX_SEGMENTS = 20
MAX_OPTIONS = 50
MAX_PROMPT = 500
MAX_VALUE = 64
MAX_LABEL = 200
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_RECOMMENDED = 20
MAX_POINTS = 1_000_000
MAX_SCALE_BOUND = 1_000_000
MAX_SCALE_STEPS = 100
MAX_PRIORITY = 1_000_000

QUESTION_FIELDS = frozenset({"key", "prompt", "kind", "required", "options", "min", "max", "weights"})
OPTION_FIELDS = frozenset({"value", "label", "scores"})
SEGMENT_FIELDS = frozenset({"key", "name", "description", "insight", "recommendedJourneys", "priority"})

Path = tuple[str, ...]


def clean_form(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """The canonical form of an admin's input, or None when it has no questions and no segments
    (clearing the form). Raises InvalidInput listing every problem under ``input``.

    Optional parts may be omitted or null: ``required`` false, ``options`` [], ``min``/``max``
    null, ``weights``/``scores`` {}, an option's ``label`` its value, ``description``/``insight``
    "", ``recommendedJourneys`` [], ``priority`` 0. Texts are stripped; option values are kept
    exactly (answers must match them) and may not have surrounding spaces.
    """
    problems = Problems("input")
    _unknown_fields(problems, (), raw, frozenset({"questions", "segments"}))
    raw_questions = _list(problems, ("questions",), raw.get("questions"))
    raw_segments = _list(problems, ("segments",), raw.get("segments"))
    if not raw_questions and not raw_segments:
        problems.raise_if_any()
        return None
    if not raw_questions:
        problems.add("questions", "a form needs at least one question (send no segments either to clear it)")
    elif len(raw_questions) > MAX_QUESTIONS:
        problems.add("questions", f"at most {MAX_QUESTIONS} questions")
    if not raw_segments:
        problems.add("segments", "a form needs at least one segment (send no questions either to clear it)")
    elif len(raw_segments) > MAX_SEGMENTS:
        problems.add("segments", f"at most {MAX_SEGMENTS} segments")
    segments = [_clean_segment(problems, ("segments", str(i)), s) for i, s in enumerate(raw_segments)]
    _unique_keys(problems, "segments", segments)
    # Every key an admin named counts as known, so one bad segment key is reported once, not per score.
    segment_keys = {s["key"] for s in segments if isinstance(s.get("key"), str)}
    questions = [_clean_question(problems, ("questions", str(i)), q, segment_keys) for i, q in enumerate(raw_questions)]
    _unique_keys(problems, "questions", questions)
    problems.raise_if_any()
    return {"questions": questions, "segments": segments}


def _clean_segment(problems: Problems, path: Path, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems.add(path, "must be an object")
        return {}
    _unknown_fields(problems, path, raw, SEGMENT_FIELDS)
    journeys: list[str] = []
    raw_journeys = _list(problems, (*path, "recommendedJourneys"), raw.get("recommendedJourneys"))
    if len(raw_journeys) > MAX_RECOMMENDED:
        problems.add((*path, "recommendedJourneys"), f"at most {MAX_RECOMMENDED} journeys")
    for j, value in enumerate(raw_journeys):
        journey_id = _uuid(value)
        if journey_id is None:
            problems.add((*path, "recommendedJourneys", str(j)), "must be a journey id (UUID)")
        elif str(journey_id) not in journeys:
            journeys.append(str(journey_id))
    priority = raw.get("priority")
    if priority is None:
        priority = 0
    elif not _is_int(priority) or not 0 <= priority <= MAX_PRIORITY:
        problems.add((*path, "priority"), f"must be an integer between 0 and {MAX_PRIORITY}")
    return {
        "key": _key(problems, (*path, "key"), raw.get("key")),
        "name": _text(problems, (*path, "name"), raw.get("name"), limit=MAX_NAME, required=True),
        "description": _text(problems, (*path, "description"), raw.get("description"), limit=MAX_DESCRIPTION),
        "insight": _text(problems, (*path, "insight"), raw.get("insight"), limit=MAX_DESCRIPTION),
        "recommendedJourneys": journeys,
        "priority": priority,
    }


def _clean_question(problems: Problems, path: Path, raw: Any, segment_keys: set[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems.add(path, "must be an object")
        return {}
    _unknown_fields(problems, path, raw, QUESTION_FIELDS)
    kind_value = raw.get("kind")
    if isinstance(kind_value, Enum):
        kind_value = kind_value.value
    try:
        kind: QuestionKind | None = QuestionKind(kind_value)
    except ValueError:
        kind = None
        problems.add((*path, "kind"), f"must be one of {', '.join(k.value for k in QuestionKind)}")
    required = raw.get("required")
    if required is None:
        required = False
    elif not isinstance(required, bool):
        problems.add((*path, "required"), "must be a boolean")
    raw_options = _list(problems, (*path, "options"), raw.get("options"))
    options = [_clean_option(problems, (*path, "options", str(j)), o, segment_keys) for j, o in enumerate(raw_options)]
    weights = _points(problems, (*path, "weights"), raw.get("weights"), segment_keys)
    low, high = raw.get("min"), raw.get("max")
    if kind is not None and kind.is_choice:
        if len(options) < 2:
            problems.add((*path, "options"), "a choice question needs at least 2 options")
        elif len(options) > MAX_OPTIONS:
            problems.add((*path, "options"), f"at most {MAX_OPTIONS} options")
        seen: set[str] = set()
        for j, option in enumerate(options):
            value = option.get("value")
            if isinstance(value, str):
                if value in seen:
                    problems.add((*path, "options", str(j), "value"), "duplicate option value")
                seen.add(value)
    elif kind is not None and options:
        problems.add((*path, "options"), f"a {kind.value} question has no options")
    if kind is QuestionKind.SCALE:
        for name, bound in (("min", low), ("max", high)):
            if bound is None:
                problems.add((*path, name), "is required for a SCALE question")
            elif not _is_int(bound) or abs(bound) > MAX_SCALE_BOUND:
                problems.add((*path, name), f"must be an integer between -{MAX_SCALE_BOUND} and {MAX_SCALE_BOUND}")
        if _is_int(low) and _is_int(high):
            if low >= high:
                problems.add((*path, "max"), "must be greater than min")
            elif high - low > MAX_SCALE_STEPS:
                problems.add((*path, "max"), f"a scale spans at most {MAX_SCALE_STEPS} steps")
    elif kind is not None:
        for name, bound in (("min", low), ("max", high)):
            if bound is not None:
                problems.add((*path, name), "only a SCALE question has min and max")
        if weights:
            problems.add((*path, "weights"), "only a SCALE question has weights")
    return {
        "key": _key(problems, (*path, "key"), raw.get("key")),
        "prompt": _text(problems, (*path, "prompt"), raw.get("prompt"), limit=MAX_PROMPT, required=True),
        "kind": kind.value if kind is not None else kind_value,
        "required": required,
        "options": options,
        "min": low if kind is QuestionKind.SCALE else None,
        "max": high if kind is QuestionKind.SCALE else None,
        "weights": weights if kind is QuestionKind.SCALE else {},
    }


def _clean_option(problems: Problems, path: Path, raw: Any, segment_keys: set[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems.add(path, "must be an object")
        return {}
    _unknown_fields(problems, path, raw, OPTION_FIELDS)
    value = raw.get("value")
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_VALUE or value != value.strip():
        problems.add((*path, "value"), f"must be 1-{MAX_VALUE} characters without surrounding spaces")
    label = raw.get("label")
    if label is None and isinstance(value, str):
        label = value
    return {
        "value": value,
        "label": _text(problems, (*path, "label"), label, limit=MAX_LABEL, required=True),
        "scores": _points(problems, (*path, "scores"), raw.get("scores"), segment_keys),
    }


def _points(problems: Problems, path: Path, raw: Any, segment_keys: set[str]) -> dict[str, int | float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.add(path, "must be an object mapping segment keys to numbers")
        return {}
    points: dict[str, int | float] = {}
    for segment_key, number in raw.items():
        field = (*path, str(segment_key))
        if segment_key not in segment_keys:
            problems.add(field, "is not a segment of this form")
        elif isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            problems.add(field, "must be a finite number")
        elif abs(number) > MAX_POINTS:
            problems.add(field, f"must be between -{MAX_POINTS} and {MAX_POINTS}")
        else:
            points[segment_key] = number
    return points


def _unique_keys(problems: Problems, name: str, items: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        key = item.get("key")
        if isinstance(key, str) and KEY_RE.match(key):
            if key in seen:
                problems.add((name, str(i), "key"), f"duplicate key `{key}`")
            seen.add(key)


def _key(problems: Problems, path: Path, value: Any) -> Any:
    if not isinstance(value, str) or not KEY_RE.match(value):
        problems.add(path, "must be 1-64 lowercase letters, digits or '_', starting with a letter")
    return value


def _text(problems: Problems, path: Path, value: Any, *, limit: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        problems.add(path, "must be a string")
        return ""
    text = value.strip()
    if required and not text:
        problems.add(path, f"must be 1-{limit} characters")
    elif len(text) > limit:
        problems.add(path, f"must be at most {limit} characters")
    return text


def _list(problems: Problems, path: Path, value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    problems.add(path, "must be a list")
    return []


def _unknown_fields(problems: Problems, path: Path, raw: Mapping[str, Any], known: frozenset[str]) -> None:
    for name in raw:
        if name not in known:
            problems.add((*path, str(name)), "unknown field")


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
