"""The classification form and engine, as pure functions: cleaning an admin's form into its
canonical dict (defaults, normalisation, every kind of bad form with exact field paths),
scoring answers (single and multiple choices, scales with negative weights, ignored text),
tie-breaking by priority then key, the reasons, every response error, and the stored JSON."""

from __future__ import annotations

import copy
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from app.errors import DomainError, ErrorCode, InvalidInput
from app.onboarding.classification import Outcome, Reason, Response, classify
from app.onboarding.form_input import clean_form
from app.onboarding.forms import QuestionKind, Segment, parse_form, recommended_journey_ids

J1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
J2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
J3 = uuid.UUID("33333333-3333-4333-8333-333333333333")

# An admin's input with optional parts left out; FORM below is what it must clean into.
FORM_INPUT: dict[str, Any] = {
    "questions": [
        {
            "key": "goal",
            "prompt": "  What brings you here?  ",
            "kind": "SINGLE_CHOICE",
            "required": True,
            "options": [
                {"value": "build", "label": "Build things", "scores": {"builder": 3}},
                {"value": "explore", "label": " Explore ", "scores": {"explorer": 3}},
                {"value": "lead", "label": "Lead a team", "scores": {"leader": 2, "builder": 1}},
                {"value": "unsure"},
            ],
        },
        {
            "key": "tools",
            "prompt": "Which tools do you use?",
            "kind": "MULTI_CHOICE",
            "options": [
                {"value": "people", "label": "People", "scores": {"leader": 2, "explorer": 1.0}},
                {"value": "code", "label": "Code", "scores": {"builder": 2}},
                {"value": "maps", "label": "Maps", "scores": {"explorer": 1}},
            ],
        },
        {
            "key": "energy",
            "prompt": "Energy",
            "kind": "SCALE",
            "min": 1,
            "max": 5,
            "weights": {"explorer": 1, "builder": -1},
        },
        {
            "key": "mood",
            "prompt": "Mood",
            "kind": "SCALE",
            "min": -2,
            "max": 2,
            "weights": {"leader": 1.5},
            "options": None,
        },
        {"key": "notes", "prompt": "Anything else?", "kind": QuestionKind.TEXT, "required": None},
    ],
    "segments": [
        {
            "key": "builder",
            "name": "Builder",
            "priority": 2,
            "insight": "You like making things.",
            "recommendedJourneys": [str(J1).upper()],
        },
        {
            "key": "leader",
            "name": " Leader ",
            "priority": 1,
            "description": "Guides others",
            "recommendedJourneys": [str(J2), str(J2)],
        },
        {
            "key": "explorer",
            "name": "Explorer",
            "priority": 1,
            "insight": "You like to roam.",
            "recommendedJourneys": [J3],
        },
    ],
}


def _question(key: str, prompt: str, kind: str, **rest: Any) -> dict[str, Any]:
    return {
        "key": key,
        "prompt": prompt,
        "kind": kind,
        "required": False,
        "options": [],
        "min": None,
        "max": None,
        "weights": {},
        **rest,
    }


FORM: dict[str, Any] = {
    "questions": [
        _question(
            "goal",
            "What brings you here?",
            "SINGLE_CHOICE",
            required=True,
            options=[
                {"value": "build", "label": "Build things", "scores": {"builder": 3}},
                {"value": "explore", "label": "Explore", "scores": {"explorer": 3}},
                {"value": "lead", "label": "Lead a team", "scores": {"leader": 2, "builder": 1}},
                {"value": "unsure", "label": "unsure", "scores": {}},
            ],
        ),
        _question(
            "tools",
            "Which tools do you use?",
            "MULTI_CHOICE",
            options=[
                {"value": "people", "label": "People", "scores": {"leader": 2, "explorer": 1.0}},
                {"value": "code", "label": "Code", "scores": {"builder": 2}},
                {"value": "maps", "label": "Maps", "scores": {"explorer": 1}},
            ],
        ),
        _question("energy", "Energy", "SCALE", min=1, max=5, weights={"explorer": 1, "builder": -1}),
        _question("mood", "Mood", "SCALE", min=-2, max=2, weights={"leader": 1.5}),
        _question("notes", "Anything else?", "TEXT"),
    ],
    "segments": [
        {
            "key": "builder",
            "name": "Builder",
            "description": "",
            "insight": "You like making things.",
            "recommendedJourneys": [str(J1)],
            "priority": 2,
        },
        {
            "key": "leader",
            "name": "Leader",
            "description": "Guides others",
            "insight": "",
            "recommendedJourneys": [str(J2)],
            "priority": 1,
        },
        {
            "key": "explorer",
            "name": "Explorer",
            "description": "",
            "insight": "You like to roam.",
            "recommendedJourneys": [str(J3)],
            "priority": 1,
        },
    ],
}
SEGMENT_ORDER = ("builder", "leader", "explorer")


def answers(goal: str | None = "unsure", **others: tuple[str, ...] | str) -> list[Response]:
    """Responses: ``goal`` first (it is required), then the others in the order given."""
    responses = [] if goal is None else [Response("goal", (goal,))]
    for key, values in others.items():
        responses.append(Response(key, (values,) if isinstance(values, str) else values))
    return responses


def scores(outcome: Outcome) -> dict[str, float]:
    assert tuple(key for key, _ in outcome.scores) == SEGMENT_ORDER
    return dict(outcome.scores)


def problem_fields(excinfo: pytest.ExceptionInfo[InvalidInput]) -> list[list[str]]:
    assert excinfo.value.code is ErrorCode.BAD_USER_INPUT
    return [list(problem.field) for problem in excinfo.value.problems]


# --- clean_form ---------------------------------------------------------------------------


def test_clean_form_normalises_a_full_form_with_defaults() -> None:
    cleaned = clean_form(copy.deepcopy(FORM_INPUT))

    assert cleaned == FORM
    assert json.loads(json.dumps(cleaned)) == FORM  # JSON-safe as stored
    assert clean_form(FORM) == FORM  # canonical input is a fixed point


@pytest.mark.parametrize("raw", [{}, {"questions": [], "segments": []}, {"questions": None, "segments": None}])
def test_an_empty_form_clears_it(raw: dict[str, Any]) -> None:
    assert clean_form(raw) is None


def test_recommended_journey_ids_and_parse_form() -> None:
    assert recommended_journey_ids(FORM) == {J1, J2, J3}
    assert recommended_journey_ids(None) == set()

    parsed = parse_form(FORM)
    assert [q.kind for q in parsed.questions] == [
        QuestionKind.SINGLE_CHOICE,
        QuestionKind.MULTI_CHOICE,
        QuestionKind.SCALE,
        QuestionKind.SCALE,
        QuestionKind.TEXT,
    ]
    assert parsed.segments[0] == Segment("builder", "Builder", "", "You like making things.", (J1,), 2)
    assert parsed.segments[0].to_json() == FORM["segments"][0]


Edit = Callable[[dict[str, Any]], None]


def q(index: int, **changes: Any) -> Edit:
    def edit(form: dict[str, Any]) -> None:
        form["questions"][index].update(changes)

    return edit


def opt(question: int, option: int, **changes: Any) -> Edit:
    def edit(form: dict[str, Any]) -> None:
        form["questions"][question]["options"][option].update(changes)

    return edit


def seg(index: int, **changes: Any) -> Edit:
    def edit(form: dict[str, Any]) -> None:
        form["segments"][index].update(changes)

    return edit


def top(**changes: Any) -> Edit:
    return lambda form: form.update(changes)


def _options(count: int) -> list[dict[str, Any]]:
    return [{"value": f"v{i}", "label": f"V{i}"} for i in range(count)]


QUESTION = ["input", "questions"]
SEGMENT = ["input", "segments"]

BAD_FORMS: list[tuple[str, Edit, list[list[str]]]] = [
    ("uppercase question key", q(0, key="Goal"), [[*QUESTION, "0", "key"]]),
    ("question key too long", q(0, key="g" * 65), [[*QUESTION, "0", "key"]]),
    ("question key starting with a digit", q(0, key="1goal"), [[*QUESTION, "0", "key"]]),
    ("duplicate question key", q(1, key="goal"), [[*QUESTION, "1", "key"]]),
    ("missing prompt", q(0, prompt=None), [[*QUESTION, "0", "prompt"]]),
    ("blank prompt", q(0, prompt="   "), [[*QUESTION, "0", "prompt"]]),
    ("prompt too long", q(0, prompt="p" * 501), [[*QUESTION, "0", "prompt"]]),
    ("unknown kind", q(0, kind="RADIO"), [[*QUESTION, "0", "kind"]]),
    ("required not a boolean", q(0, required="yes"), [[*QUESTION, "0", "required"]]),
    ("unknown question field", q(0, colour="red"), [[*QUESTION, "0", "colour"]]),
    ("choice with one option", q(0, options=[{"value": "a"}]), [[*QUESTION, "0", "options"]]),
    ("choice with no options", q(1, options=None), [[*QUESTION, "1", "options"]]),
    ("too many options", q(1, options=_options(51)), [[*QUESTION, "1", "options"]]),
    ("duplicate option value", opt(0, 1, value="build"), [[*QUESTION, "0", "options", "1", "value"]]),
    ("empty option value", opt(0, 0, value=""), [[*QUESTION, "0", "options", "0", "value"]]),
    ("option value too long", opt(0, 0, value="v" * 65), [[*QUESTION, "0", "options", "0", "value"]]),
    ("option value with spaces", opt(0, 0, value=" build"), [[*QUESTION, "0", "options", "0", "value"]]),
    ("blank option label", opt(0, 0, label=" "), [[*QUESTION, "0", "options", "0", "label"]]),
    ("option label too long", opt(0, 0, label="l" * 201), [[*QUESTION, "0", "options", "0", "label"]]),
    (
        "score for an unknown segment",
        opt(0, 0, scores={"ghost": 1}),
        [[*QUESTION, "0", "options", "0", "scores", "ghost"]],
    ),
    ("score not a number", opt(0, 0, scores={"builder": "3"}), [[*QUESTION, "0", "options", "0", "scores", "builder"]]),
    ("score a boolean", opt(0, 0, scores={"builder": True}), [[*QUESTION, "0", "options", "0", "scores", "builder"]]),
    ("score NaN", opt(0, 0, scores={"builder": math.nan}), [[*QUESTION, "0", "options", "0", "scores", "builder"]]),
    (
        "score infinite",
        opt(0, 0, scores={"builder": -math.inf}),
        [[*QUESTION, "0", "options", "0", "scores", "builder"]],
    ),
    (
        "score too large",
        opt(0, 0, scores={"builder": 1_000_001}),
        [[*QUESTION, "0", "options", "0", "scores", "builder"]],
    ),
    ("scores not an object", opt(0, 0, scores=[3]), [[*QUESTION, "0", "options", "0", "scores"]]),
    ("choice with min and max", q(0, min=1, max=3), [[*QUESTION, "0", "min"], [*QUESTION, "0", "max"]]),
    ("choice with weights", q(1, weights={"builder": 1}), [[*QUESTION, "1", "weights"]]),
    ("scale without min", q(2, min=None), [[*QUESTION, "2", "min"]]),
    ("scale without max", q(2, max=None), [[*QUESTION, "2", "max"]]),
    ("scale with a float bound", q(2, min=1.5), [[*QUESTION, "2", "min"]]),
    ("scale with min equal to max", q(2, min=5), [[*QUESTION, "2", "max"]]),
    ("scale with min above max", q(2, min=6), [[*QUESTION, "2", "max"]]),
    ("scale of more than 100 steps", q(2, min=0, max=101), [[*QUESTION, "2", "max"]]),
    ("scale with options", q(2, options=_options(2)), [[*QUESTION, "2", "options"]]),
    ("weight for an unknown segment", q(2, weights={"ghost": 1}), [[*QUESTION, "2", "weights", "ghost"]]),
    ("weight too small", q(2, weights={"builder": -1e6 - 1}), [[*QUESTION, "2", "weights", "builder"]]),
    ("text with options", q(4, options=_options(2)), [[*QUESTION, "4", "options"]]),
    ("text with weights", q(4, weights={"builder": 1}), [[*QUESTION, "4", "weights"]]),
    ("text with a max", q(4, max=3), [[*QUESTION, "4", "max"]]),
    ("too many questions", top(questions=[_question(f"q{i}", "P", "TEXT") for i in range(51)]), [QUESTION]),
    ("questions not a list", top(questions="goal"), [QUESTION, QUESTION]),
    ("segments without questions", top(questions=[]), [QUESTION]),
    ("questions without segments", top(questions=[_question("q", "P", "TEXT")], segments=[]), [SEGMENT]),
    (
        "too many segments",
        top(segments=[{"key": f"s{i}", "name": "S"} for i in range(21)], questions=[_question("q", "P", "TEXT")]),
        [SEGMENT],
    ),
    ("unknown top-level field", top(title="x"), [["input", "title"]]),
    (
        "bad segment key",
        seg(2, key="Explorer"),
        [
            [*SEGMENT, "2", "key"],
            *[
                [*QUESTION, str(i), *p]
                for i, p in (
                    (0, ["options", "1", "scores", "explorer"]),
                    (1, ["options", "0", "scores", "explorer"]),
                    (1, ["options", "2", "scores", "explorer"]),
                    (2, ["weights", "explorer"]),
                )
            ],
        ],
    ),
    (
        "duplicate segment key",
        seg(1, key="builder"),
        [
            [*SEGMENT, "1", "key"],
            *[
                [*QUESTION, str(i), *p]
                for i, p in (
                    (0, ["options", "2", "scores", "leader"]),
                    (1, ["options", "0", "scores", "leader"]),
                    (3, ["weights", "leader"]),
                )
            ],
        ],
    ),
    ("missing segment name", seg(0, name=None), [[*SEGMENT, "0", "name"]]),
    ("segment name too long", seg(0, name="n" * 201), [[*SEGMENT, "0", "name"]]),
    ("segment description too long", seg(0, description="d" * 2001), [[*SEGMENT, "0", "description"]]),
    ("segment insight not a string", seg(0, insight=3), [[*SEGMENT, "0", "insight"]]),
    ("negative priority", seg(0, priority=-1), [[*SEGMENT, "0", "priority"]]),
    ("priority not an integer", seg(0, priority="1"), [[*SEGMENT, "0", "priority"]]),
    (
        "recommended journey not a UUID",
        seg(0, recommendedJourneys=[str(J1), "nope"]),
        [[*SEGMENT, "0", "recommendedJourneys", "1"]],
    ),
    (
        "too many recommended journeys",
        seg(0, recommendedJourneys=[str(uuid.uuid4()) for _ in range(21)]),
        [[*SEGMENT, "0", "recommendedJourneys"]],
    ),
    ("unknown segment field", seg(0, colour="red"), [[*SEGMENT, "0", "colour"]]),
]


@pytest.mark.parametrize(("edit", "fields"), [case[1:] for case in BAD_FORMS], ids=[case[0] for case in BAD_FORMS])
def test_clean_form_rejects_bad_forms_with_exact_paths(edit: Edit, fields: list[list[str]]) -> None:
    raw = copy.deepcopy(FORM)
    edit(raw)

    with pytest.raises(InvalidInput) as excinfo:
        clean_form(raw)

    assert problem_fields(excinfo) == fields
    assert list(excinfo.value.field or ()) == fields[0]


def test_clean_form_accepts_limits_that_are_just_allowed() -> None:
    raw = copy.deepcopy(FORM)
    raw["questions"][2].update(min=-50, max=50)
    raw["questions"][0]["options"][0].update(value="v" * 64, label="l" * 200, scores={"s" * 64: -1e6, "leader": 0.5})
    raw["segments"].append(
        {
            "key": "s" * 64,
            "name": "n" * 200,
            "description": "d" * 2000,
            "insight": "i" * 2000,
            "recommendedJourneys": [str(uuid.uuid4()) for _ in range(20)],
            "priority": 1_000_000,
        }
    )

    assert clean_form(raw) == raw


def test_clean_form_lists_every_problem_at_once() -> None:
    raw = copy.deepcopy(FORM)
    raw["questions"][0]["key"] = "Bad Key"
    raw["questions"][1]["options"][0]["scores"] = {"ghost": 1}
    raw["questions"][2]["min"] = 9
    raw["questions"][4]["prompt"] = ""
    raw["segments"][1]["priority"] = -5
    raw["segments"][2]["recommendedJourneys"] = ["x"]

    with pytest.raises(InvalidInput) as excinfo:
        clean_form(raw)

    assert problem_fields(excinfo) == [
        [*SEGMENT, "1", "priority"],
        [*SEGMENT, "2", "recommendedJourneys", "0"],
        [*QUESTION, "0", "key"],
        [*QUESTION, "1", "options", "0", "scores", "ghost"],
        [*QUESTION, "2", "max"],
        [*QUESTION, "4", "prompt"],
    ]


# --- scoring ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("goal", "expected", "winner"),
    [
        ("build", {"builder": 3.0, "leader": 0.0, "explorer": 0.0}, "builder"),
        ("explore", {"builder": 0.0, "leader": 0.0, "explorer": 3.0}, "explorer"),
        ("lead", {"builder": 1.0, "leader": 2.0, "explorer": 0.0}, "leader"),
        ("unsure", {"builder": 0.0, "leader": 0.0, "explorer": 0.0}, "explorer"),
    ],
)
def test_single_choice_adds_the_option_scores(goal: str, expected: dict[str, float], winner: str) -> None:
    outcome = classify(FORM, answers(goal))

    assert scores(outcome) == expected
    assert outcome.segment.key == winner


@pytest.mark.parametrize(
    ("tools", "expected", "winner"),
    [
        (("code",), {"builder": 2.0, "leader": 0.0, "explorer": 0.0}, "builder"),
        (("people",), {"builder": 0.0, "leader": 2.0, "explorer": 1.0}, "leader"),
        (("maps", "people"), {"builder": 0.0, "leader": 2.0, "explorer": 2.0}, "explorer"),
        (("people", "code", "maps"), {"builder": 2.0, "leader": 2.0, "explorer": 2.0}, "explorer"),
    ],
)
def test_multi_choice_sums_every_chosen_option(tools: tuple[str, ...], expected: dict[str, float], winner: str) -> None:
    outcome = classify(FORM, answers("unsure", tools=tools))

    assert scores(outcome) == expected
    assert outcome.segment.key == winner


@pytest.mark.parametrize(
    ("question", "value", "expected", "winner"),
    [
        ("energy", "1", {"builder": -1.0, "leader": 0.0, "explorer": 1.0}, "explorer"),
        ("energy", "5", {"builder": -5.0, "leader": 0.0, "explorer": 5.0}, "explorer"),
        ("energy", "03", {"builder": -3.0, "leader": 0.0, "explorer": 3.0}, "explorer"),
        ("mood", "1", {"builder": 0.0, "leader": 1.5, "explorer": 0.0}, "leader"),
        ("mood", "-2", {"builder": 0.0, "leader": -3.0, "explorer": 0.0}, "explorer"),
        ("mood", "0", {"builder": 0.0, "leader": 0.0, "explorer": 0.0}, "explorer"),
    ],
)
def test_scale_multiplies_the_weights(question: str, value: str, expected: dict[str, float], winner: str) -> None:
    outcome = classify(FORM, answers("unsure", **{question: value}))

    assert scores(outcome) == expected
    assert outcome.segment.key == winner
    assert all(math.copysign(1.0, score) == 1.0 for _, score in outcome.scores if score == 0)


def test_text_answers_score_nothing() -> None:
    without = classify(FORM, answers("lead"))
    with_text = classify(FORM, answers("lead", notes="I build and lead and explore " * 10))

    assert with_text == without
    assert all(reason.question_key != "notes" for reason in with_text.reasons)


def test_ties_go_to_the_lower_priority_number() -> None:
    # builder 3 - 1 = 2 and explorer 1 + 1 = 2: builder is first by key and in the form, but
    # explorer's priority 1 beats builder's 2.
    outcome = classify(FORM, answers("build", tools=("maps",), energy="1"))

    assert scores(outcome) == {"builder": 2.0, "leader": 0.0, "explorer": 2.0}
    assert outcome.segment.key == "explorer"


def test_ties_of_equal_priority_go_to_the_lower_key() -> None:
    # leader 2 and explorer 1 + 1 = 2, both priority 1: leader comes first in the form, explorer by key.
    outcome = classify(FORM, answers("unsure", tools=("people",), energy="1"))

    assert scores(outcome) == {"builder": -1.0, "leader": 2.0, "explorer": 2.0}
    assert outcome.segment.key == "explorer"


def test_decimal_points_tie_as_written() -> None:
    form = clean_form(
        {
            "questions": [
                {
                    "key": "picks",
                    "prompt": "Pick",
                    "kind": "MULTI_CHOICE",
                    "options": [
                        {"value": "a1", "scores": {"a": 0.1}},
                        {"value": "a2", "scores": {"a": 0.2}},
                        {"value": "b", "scores": {"b": 0.3}},
                    ],
                }
            ],
            "segments": [{"key": "a", "name": "A", "priority": 2}, {"key": "b", "name": "B", "priority": 1}],
        }
    )

    outcome = classify(form, [Response("picks", ("a1", "a2", "b"))])

    assert outcome.scores == (("a", 0.3), ("b", 0.3))
    assert outcome.segment.key == "b"


def test_the_outcome_explains_every_point_in_order() -> None:
    # Question order, then the form's option order (people before code, whatever the answer's
    # order), then segment order (builder before leader, whatever the scores' order).
    outcome = classify(FORM, answers("lead", tools=("code", "people"), energy="3", mood="0", notes="hello"))

    assert outcome.reasons == (
        Reason("goal", "lead", "builder", 1.0),
        Reason("goal", "lead", "leader", 2.0),
        Reason("tools", "people", "leader", 2.0),
        Reason("tools", "people", "explorer", 1.0),
        Reason("tools", "code", "builder", 2.0),
        Reason("energy", "3", "builder", -3.0),
        Reason("energy", "3", "explorer", 3.0),
    )
    assert scores(outcome) == {"builder": 0.0, "leader": 4.0, "explorer": 4.0}
    assert outcome.segment == parse_form(FORM).segments[2]
    assert outcome.insight == "You like to roam."
    assert outcome.recommended_journey_ids == (J3,)


def test_answers_may_come_in_any_order_and_skip_optional_questions() -> None:
    responses = [Response("energy", ("2",)), Response("goal", ("build",))]

    outcome = classify(FORM, responses)

    assert scores(outcome) == {"builder": 1.0, "leader": 0.0, "explorer": 2.0}
    assert outcome.segment.key == "explorer"
    assert [(r.question_key, r.segment_key) for r in outcome.reasons] == [
        ("goal", "builder"),
        ("energy", "builder"),
        ("energy", "explorer"),
    ]


def test_outcome_json_round_trip() -> None:
    outcome = classify(FORM, answers("lead", tools=("people",), mood="1"))

    stored = json.loads(json.dumps(outcome.to_json()))

    assert stored == {
        "segment": FORM["segments"][1],
        "scores": [
            {"segmentKey": "builder", "score": 1.0},
            {"segmentKey": "leader", "score": 5.5},
            {"segmentKey": "explorer", "score": 1.0},
        ],
        "reasons": [
            {"questionKey": "goal", "value": "lead", "segmentKey": "builder", "points": 1.0},
            {"questionKey": "goal", "value": "lead", "segmentKey": "leader", "points": 2.0},
            {"questionKey": "tools", "value": "people", "segmentKey": "leader", "points": 2.0},
            {"questionKey": "tools", "value": "people", "segmentKey": "explorer", "points": 1.0},
            {"questionKey": "mood", "value": "1", "segmentKey": "leader", "points": 1.5},
        ],
        "insight": "",
        "recommendedJourneys": [str(J2)],
    }
    assert Outcome.from_json(stored) == outcome
    responses = answers("lead", tools=("people", "code"))
    assert [Response.from_json(json.loads(json.dumps(r.to_json()))) for r in responses] == responses


# --- response errors ----------------------------------------------------------------------

R = "responses"
RESPONSE_ERRORS: list[tuple[str, list[Response], list[list[str]]]] = [
    ("unknown question", [*answers(), Response("nope", ("x",))], [[R, "1", "questionKey"]]),
    ("question answered twice", [*answers(), Response("goal", ("build",))], [[R, "1", "questionKey"]]),
    ("value not an option", answers("fly"), [[R, "0", "values", "0"]]),
    ("one multi value not an option", answers(tools=("code", "fly")), [[R, "1", "values", "1"]]),
    ("values case-sensitive", answers("Build"), [[R, "0", "values", "0"]]),
    ("single choice with two values", [Response("goal", ("build", "lead"))], [[R, "0", "values"]]),
    ("single choice with no value", [Response("goal", ())], [[R, "0", "values"]]),
    ("multi choice with no value", answers(tools=()), [[R, "1", "values"]]),
    ("multi choice repeated value", answers(tools=("code", "code")), [[R, "1", "values"]]),
    ("scale above max", answers(energy="6"), [[R, "1", "values", "0"]]),
    ("scale below min", answers(energy="0"), [[R, "1", "values", "0"]]),
    ("scale below negative min", answers(mood="-3"), [[R, "1", "values", "0"]]),
    ("scale not an integer", answers(energy="2.5"), [[R, "1", "values", "0"]]),
    ("scale not a number", answers(energy="lots"), [[R, "1", "values", "0"]]),
    ("scale with spaces", answers(energy=" 3"), [[R, "1", "values", "0"]]),
    ("scale empty", answers(energy=""), [[R, "1", "values", "0"]]),
    ("scale huge", answers(energy="9" * 5000), [[R, "1", "values", "0"]]),
    ("scale with two values", answers(energy=("2", "3")), [[R, "1", "values"]]),
    ("text too long", answers(notes="x" * 2001), [[R, "1", "values", "0"]]),
    ("text with two values", answers(notes=("a", "b")), [[R, "1", "values"]]),
    ("text with no value", answers(notes=()), [[R, "1", "values"]]),
    ("required question missing", answers(None, tools=("code",)), [[R, "goal"]]),
    ("no answers at all", [], [[R, "goal"]]),
]


@pytest.mark.parametrize(("responses", "fields"), [c[1:] for c in RESPONSE_ERRORS], ids=[c[0] for c in RESPONSE_ERRORS])
def test_bad_responses_name_the_exact_field(responses: list[Response], fields: list[list[str]]) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        classify(FORM, responses)

    assert problem_fields(excinfo) == fields


def test_every_response_problem_is_listed_at_once() -> None:
    responses = [
        Response("tools", ("code", "fly", "code")),
        Response("nope", ("1",)),
        Response("energy", ("9",)),
        Response("energy", ("2",)),
        Response("notes", ("x" * 2001, "y")),
    ]

    with pytest.raises(InvalidInput) as excinfo:
        classify(FORM, responses)

    fields = problem_fields(excinfo)
    assert len(fields) == 8
    assert fields == [
        [R, "0", "values"],
        [R, "0", "values", "1"],
        [R, "1", "questionKey"],
        [R, "2", "values", "0"],
        [R, "3", "questionKey"],
        [R, "4", "values"],
        [R, "4", "values", "0"],
        [R, "goal"],
    ]
    assert list(excinfo.value.field or ()) == [R, "0", "values"]


def test_limits_that_are_just_allowed() -> None:
    outcome = classify(FORM, answers(notes="x" * 2000, energy="5", mood="-2", tools=("code", "maps", "people")))

    assert outcome.segment.key == "explorer"
    assert scores(outcome) == {"builder": -3.0, "leader": -1.0, "explorer": 7.0}


def test_a_required_text_must_not_be_blank() -> None:
    form = clean_form(
        {
            "questions": [
                {"key": "why", "prompt": "Why?", "kind": "TEXT", "required": True},
                {"key": "extra", "prompt": "More?", "kind": "TEXT"},
            ],
            "segments": [{"key": "only", "name": "Only"}],
        }
    )

    with pytest.raises(InvalidInput) as excinfo:
        classify(form, [Response("why", ("  ",)), Response("extra", ("",))])
    assert problem_fields(excinfo) == [[R, "0", "values", "0"]]

    assert classify(form, [Response("why", ("because",))]).segment.key == "only"


@pytest.mark.parametrize(
    "form",
    [None, {}, {"questions": [], "segments": FORM["segments"]}, {"questions": FORM["questions"], "segments": []}],
)
def test_a_form_without_questions_or_segments_cannot_classify(form: dict[str, Any] | None) -> None:
    with pytest.raises(DomainError) as excinfo:
        classify(form, answers())

    assert not isinstance(excinfo.value, InvalidInput)
    assert excinfo.value.code is ErrorCode.BAD_USER_INPUT
    assert excinfo.value.field == ("onboardingId",)
