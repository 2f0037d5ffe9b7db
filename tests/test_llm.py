"""Reading model answers strictly, and the constrained-decoding grammar (no torch needed)."""

import json
import random

import pytest

from model_runtime.arkit import BLENDSHAPES, POSE
from model_runtime.backends.builtin import BuiltinBackend
from model_runtime.backends.base import GenerateRequest, PlannedKeyframe, SolvedKeyframe
from model_runtime.backends.constrained import (Grammar, Literal, Number, _number_complete, keyframe_grammar,
                                                number_regex, plan_grammar)
from model_runtime.backends.llm import (LABELS, AnswerError, degenerate_plan, degenerate_solve, is_plan_request,
                                        parse_paper_request, plan_answer, plan_messages, plan_problems,
                                        read_plan_answer, read_solve_answer, solve_problems)
from model_runtime.errors import BackendError
from model_runtime.formats.keyframeface_json import build_messages, parse_keyframe_answer, to_keyframeface

FULL = to_keyframeface({n: 0.2 for n in BLENDSHAPES}, {n: 0.1 for n in POSE}, 0)


def _fill():
    return BuiltinBackend().solve(["The lips press together."], 0, "", "")


def test_answer_wrapped_in_think_fence_and_prose_is_read():
    text = "<think>brows first...</think>Sure! Here it is:\n```json\n" + json.dumps(FULL) + "\n```\nHope this helps."
    solved = read_solve_answer(text, 0, _fill)
    assert solved.weights["jawOpen"] == 0.2 and solved.pose["headYaw"] == 0.1 and not solved.notes


def test_missing_names_are_filled_and_out_of_range_clamped_with_notes():
    parameters = dict(FULL["Keyframe_one"])
    del parameters["MouthPressLeft"], parameters["HeadYaw"]
    parameters["JawOpen"] = 1.7
    solved = read_solve_answer(json.dumps({"Keyframe_one": parameters}), 2, _fill)
    filled = _fill()
    assert solved.weights["mouthPressLeft"] == filled.weights["mouthPressLeft"] > 0
    assert solved.weights["jawOpen"] == 1.0
    assert any("left out 2 parameters" in n and n.startswith("Keyframe 3") for n in solved.notes)
    assert any("clamped: JawOpen" in n for n in solved.notes)


@pytest.mark.parametrize("text, message", [
    ('{"Keyframe_one": {"JawOpen": NaN}}', "finite"),
    ('{"Keyframe_one": {"Smile": 0.4, "Frown": 0.1}}', "no ARKit parameter names"),
    ('{"Keyframe_one": {"JawOpen": 0.4, "Smile": 0.3}}', "names only 1 of the 61"),
    ('{"Keyframe_one": {"JawOpen": 0.4, "MouthClose"', "no JSON object"),
    ("I cannot help with that.", "no JSON object"),
])
def test_unusable_answers_raise_answer_error(text, message):
    with pytest.raises(AnswerError, match=message):
        read_solve_answer(text, 0, _fill)


def test_plan_answer_strict():
    text = '```json\n{"keyframes": [{"time": 1.2, "label": "apex", "description": "The brows lift."},' \
           ' {"time": 0, "label": "Onset", "description": " A faint smile. "}, {"time": 9, "label": "odd", "description": "Rest."}]}\n```'
    planned = read_plan_answer(text, duration=3.0)
    assert [(k.time, k.label, k.description) for k in planned] == [
        (0.0, "onset", "A faint smile."), (1.2, "apex", "The brows lift."), (3.0, "apex", "Rest.")]
    for bad, message in [('{"keyframes": []}', "2 to 16"), ('{"keyframes": [{"time": "x"}, {}]}', "finite time"),
                         ('{"frames": 3}', "2 to 16"), ("nothing", "no JSON")]:
        with pytest.raises(AnswerError, match=message):
            read_plan_answer(bad, 3.0)


def test_paper_request_round_trip():
    messages = build_messages(["The brows lift.", "A broad smile.", "Relaxed."], "A party.", "joy", 1)
    assert parse_paper_request(messages) == (["The brows lift.", "A broad smile.", "Relaxed."], 1, "A party.", "joy")
    assert not is_plan_request(messages)


def _random_walk(grammar: Grammar, vocabulary: list[str], rng: random.Random) -> str:
    state, text = grammar.start, ""
    for _ in range(20000):
        if grammar.done(state):
            return text
        allowed = [t for t in vocabulary if grammar.advance(state, t) is not None]
        assert allowed, f"dead end after {text[-40:]!r}"
        token = rng.choice(allowed)
        state, text = grammar.advance(state, token), text + token
    raise AssertionError("never finished")


VOCABULARY = list('0123456789.-,:"{}[] _abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') + [
    "1.5", "0.", "-0.9", "99", '": ', '"}', ", ", "Eye", "Blink", "Left", "Right", "Mouth", "Jaw", "Open", "onset", "apex",
    "brows lift", '\\"', "\n",
]


@pytest.mark.parametrize("seed", range(5))
def test_any_path_through_the_keyframe_grammar_is_a_valid_in_range_keyframe(seed):
    text = _random_walk(keyframe_grammar(), VOCABULARY, random.Random(seed))
    parsed = parse_keyframe_answer(text)
    assert not parsed.missing and not parsed.clamped and not parsed.ignored
    assert all(0 <= v <= 1 for v in parsed.weights.values()) and all(-1 <= v <= 1 for v in parsed.pose.values())


@pytest.mark.parametrize("seed", range(3))
def test_any_path_through_the_plan_grammar_reads_as_a_plan(seed):
    text = _random_walk(plan_grammar(4, 2.5, LABELS, max_description=30), VOCABULARY, random.Random(seed))
    planned = read_plan_answer(text, 2.5)
    assert len(planned) == 4 and all(0 <= k.time <= 2.5 and k.label in LABELS and k.description for k in planned)


def test_numbers_keep_their_range():
    grammar = Grammar([Literal("["), Number(-1.0, 1.0, 2), Literal("]")])
    for good in ("[0]", "[-1]", "[0.25]", "[-0.5]", "[1.00]"):
        assert grammar.done(grammar.advance(grammar.start, good)), good
    for bad in ("[1.5]", "[-1.01]", "[.5]", "[01]", "[0.125]", "[2]"):
        assert grammar.advance(grammar.start, bad) is None, bad
    assert json.loads(plan_answer(read_plan_answer('{"keyframes": [{"time": 0, "label": "onset", "description": "a"}, '
                                                   '{"time": 1, "label": "release", "description": "b"}]}', 1)))


def test_local_backend_without_torch_says_how_to_fix_it(monkeypatch):
    import importlib.util

    from model_runtime.backends import get_backend
    from model_runtime.errors import BackendError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "transformers") else real(name, *a))
    with pytest.raises(BackendError, match=r"torch, transformers not installed.*pip install torch==2.13.0.*serve --backend local"):
        get_backend("local", model_path="/models/qwen")


@pytest.mark.parametrize("low, high, decimals", [(0, 1, 3), (-1, 1, 3), (0, 3.47, 2), (0, 12.0, 2), (0, 0.5, 2),
                                                 (0, 10.05, 2), (0, 123.4, 2)])
def test_the_engines_number_expression_accepts_exactly_what_the_reference_grammar_accepts(low, high, decimals):
    import re

    pattern = re.compile(number_regex(low, high, decimals))
    segment = Number(low, high, decimals)
    grammar = Grammar([Literal("["), segment, Literal("]")])
    rng = random.Random(7)
    candidates = {rng.choice(["", "-"]) + rng.choice(["0", "1", "2", "3", "9", "10", "12", "99", "123", "124", "00", "01"])
                  + rng.choice(["", ".", "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4)))])
                  for _ in range(4000)}
    for text in candidates:
        reference = grammar.advance(grammar.start, f"[{text}]")
        assert bool(pattern.fullmatch(text)) == (reference is not None and grammar.done(reference)), text
    assert any(pattern.fullmatch(text) for text in candidates) and any(_number_complete(t, segment) for t in candidates)


ISSUE_PLAN = [PlannedKeyframe(0.0, "onset", "..."), PlannedKeyframe(0.0, "apex", "..."),
              PlannedKeyframe(0.0, "emphasis", "..."), PlannedKeyframe(0.0, "hold", "..."),
              PlannedKeyframe(0.0, "release", "...")]


def test_a_plan_that_says_nothing_is_caught_and_replaced_or_refused():
    problems = plan_problems(ISSUE_PLAN)
    assert any("times do not increase" in p for p in problems) and any("placeholder" in p for p in problems)
    same = [PlannedKeyframe(t, label, "A broad smile.") for t, label in ((0, "onset"), (1, "apex"), (2, "release"))]
    assert plan_problems(same) == ["every description is the same"]
    fallback = [PlannedKeyframe(0.0, "onset", "The brows lift."), PlannedKeyframe(1.0, "release", "The face relaxes.")]
    keyframes, notes = degenerate_plan(ISSUE_PLAN, fallback, "the local model m", "builtin")
    assert keyframes == fallback and "degenerate" in notes[0] and "built-in planner instead" in notes[0]
    with pytest.raises(BackendError, match="plan from the local model m was degenerate: its times do not increase"):
        degenerate_plan(ISSUE_PLAN, fallback, "the local model m", "fail")
    same_label = [PlannedKeyframe(t, "question", f"The brows lift {w}.") for t, w in ((0, "a"), (1, "b"), (2, "c"))]
    assert plan_problems(same_label) == ["every label is 'question'"]


@pytest.mark.parametrize("script, emotion", [("I can't believe you did this to me.", "hurt, turning into anger"),
                                             ("We did it. We actually did it!", "joy mixed with disbelief"),
                                             ("Is anyone there?", "fear"), ("Fine.", "")])
def test_real_plans_are_not_called_degenerate(script, emotion):
    plan = BuiltinBackend().plan(GenerateRequest(script=script, emotion=emotion).validated())
    assert plan_problems(plan.keyframes) == []
    keyframes, notes = degenerate_plan(plan.keyframes, [], "m", "fail")
    assert keyframes == plan.keyframes and notes == ["Planned by m."]


def test_a_keyframe_that_says_nothing_about_its_description_is_caught():
    builtin = BuiltinBackend()
    reading = builtin.solve(["A broad smile, the jaw drops open."], 0, "", "joy")
    constant = SolvedKeyframe({n: 0.2 for n in BLENDSHAPES}, {n: 0.2 for n in POSE})
    assert solve_problems(constant, reading) == ["all 52 shapes are 0.2"]
    still = SolvedKeyframe({n: 0.0 for n in BLENDSHAPES}, {n: 0.0 for n in POSE})
    assert "none of the shapes the description names moves" in solve_problems(still, reading)[0]
    assert solve_problems(reading, reading) == []
    neutral = builtin.solve(["The face is relaxed and neutral."], 0, "", "")
    assert solve_problems(still, neutral) == []  # a still face for a still description is an answer
    replaced = degenerate_solve(constant, reading, 2, "m", "builtin")
    assert replaced.weights == reading.weights and "Keyframe 3 from m was degenerate" in replaced.notes[-1]
    with pytest.raises(BackendError, match="Keyframe 3 from m was degenerate: all 52 shapes are 0.2"):
        degenerate_solve(constant, reading, 2, "m", "fail")


def test_the_plan_prompts_example_cannot_be_copied_as_an_answer():
    plan = BuiltinBackend().plan(GenerateRequest(script="Hello there!", emotion="happy").validated())
    prompt = plan_messages(GenerateRequest(script="Hello there!", emotion="happy"), plan)[-1]["content"]
    example = prompt[prompt.index('{"keyframes"'):]
    with pytest.raises(AnswerError):
        read_plan_answer(example, plan.duration)
