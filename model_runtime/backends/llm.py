"""What every language-model backend shares: the two prompts and strict reading of answers.

**Solve** speaks the KeyframeFace paper's protocol exactly (``formats.keyframeface_json``): one
request per keyframe, the whole description sequence as context. **Plan** is ours: the model
gets the line with its word timings (from the built-in script timing, which lip sync follows
too) and returns timed keyframe descriptions in ``PLAN_SCHEMA``.

Answers are data, never code: code fences, ``<think>`` blocks and prose around the JSON are
dropped; names are matched by meaning; missing parameters are filled from the built-in solver
and out-of-range values clamped, both reported in the track's notes. An answer that cannot be
read raises ``AnswerError`` so the caller can ask again (a bounded number of times).

Answers that read but say nothing are caught too (``plan_problems``, ``solve_problems``): a
plan whose times do not increase, whose labels or descriptions repeat or hold placeholder
text; a keyframe whose values are all equal, or that moves none of the shapes its description
names when our own parser reads it. ``on_degenerate`` chooses what follows: ``"builtin"`` (the
built-in planner or solver takes that part, and the track's notes say so) or ``"fail"`` (a
clear error).
"""

from __future__ import annotations

import json
import math
import re

from ..errors import AnswerError, BackendError, FormatError
from ..formats.keyframeface_json import _first_json_object, build_messages, number_word, parse_keyframe_answer
from .builtin import BuiltinBackend
from .base import GenerateRequest, Plan, PlannedKeyframe, SolvedKeyframe

PLAN_SYSTEM_MESSAGE = (
    "You are a professional facial animator and the KeyframeFace planner. Plan the semantic facial "
    "keyframes of one line of dialogue: when each expression peaks and what the face does, described in "
    "plain words (brows, eyes, gaze, cheeks, nose, mouth, jaw, head). Return strict JSON only."
)
PLAN_MARKER = "KeyframeFace planner"
LABELS = ("onset", "anticipation", "apex", "emphasis", "question", "shift", "hold", "release")
MIN_KEYFRAMES, MAX_KEYFRAMES = 2, 16
MAX_DESCRIPTION = 400
# More missing names than this and the answer is not a keyframe: ask again.
MAX_MISSING = 30

PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "keyframes": {
            "type": "array",
            "minItems": MIN_KEYFRAMES,
            "maxItems": MAX_KEYFRAMES,
            "items": {
                "type": "object",
                "properties": {
                    "time": {"type": "number", "minimum": 0},
                    "label": {"type": "string", "enum": list(LABELS)},
                    "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
                },
                "required": ["time", "label", "description"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["keyframes"],
    "additionalProperties": False,
}


def plan_messages(request: GenerateRequest, plan: Plan, max_words: int = 0) -> list[dict]:
    """The plan prompt: the line, its context and emotion, its duration and word timings;
    with ``max_words``, descriptions are asked as phrases of at most that many words."""
    words = ", ".join(f"{word.text}@{word.start:.2f}s" for word in plan.timing.words) or "(no words)"
    user = (
        f"Script: {request.script}\n"
        f"Context: {request.context or '(none)'}\n"
        f"Emotion: {request.emotion or '(read it from the script and context)'}\n"
        f"Duration: {plan.duration:.2f} s\n"
        f"Word timings: {words}\n\n"
        f"Task Instruction: Plan {MIN_KEYFRAMES} to 8 keyframes from 0 to {plan.duration:.2f} seconds, in time "
        f"order: an onset at 0, apexes on stressed words, a release at the end. Labels are one of "
        f"{', '.join(LABELS)}. Answer as JSON of this shape (angle brackets mark what you fill in): "
        '{"keyframes": [{"time": <seconds>, "label": <one of the labels>, '
        '"description": <what the brows, eyes, mouth, jaw and head do, in your own words'
        + (f", at most {max_words} words" if max_words else "") + '>}, ...]}'
    )
    return [{"role": "system", "content": PLAN_SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def read_plan_answer(text: str, duration: float) -> list[PlannedKeyframe]:
    """Timed keyframe descriptions from a plan answer in time order, or ``AnswerError``."""
    return sorted(parse_plan_answer(text, duration), key=lambda k: k.time)


def parse_plan_answer(text: str, duration: float) -> list[PlannedKeyframe]:
    """Timed keyframe descriptions from a plan answer in the model's order, or ``AnswerError``
    saying what is wrong."""
    cleaned = re.sub(r"<think>.*?(</think>|$)", "", text or "", flags=re.S | re.I)
    fence = re.search(r"```(?:json)?\s*(.*?)```", cleaned, flags=re.S | re.I)
    try:
        data = _first_json_object(fence.group(1) if fence else cleaned)
    except FormatError as error:
        raise AnswerError(f"the plan answer is unreadable: {error}") from None
    if data is None:
        raise AnswerError("the plan answer holds no JSON object")
    raw = data.get("keyframes")
    if not isinstance(raw, list) or not MIN_KEYFRAMES <= len(raw) <= MAX_KEYFRAMES:
        raise AnswerError(f"the plan must list {MIN_KEYFRAMES} to {MAX_KEYFRAMES} keyframes")
    planned = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise AnswerError(f"plan keyframe {i + 1} is not an object")
        time, label, description = item.get("time"), item.get("label"), item.get("description")
        if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
            raise AnswerError(f"plan keyframe {i + 1} has no finite time")
        if not isinstance(description, str) or not description.strip():
            raise AnswerError(f"plan keyframe {i + 1} has no description")
        label = label.strip().lower() if isinstance(label, str) and label.strip().lower() in LABELS else "apex"
        time = min(max(float(time), 0.0), duration)
        planned.append(PlannedKeyframe(round(time, 4), label, " ".join(description.split())[:MAX_DESCRIPTION]))
    return planned


DEGENERATE_CHOICES = ("builtin", "fail")
PLACEHOLDERS = re.compile(r"^(\W*|\.\.\.|…|description|text|string|placeholder|todo|tbd|none|n/?a|lorem ipsum.*|x+"
                          r"|<[^>]*>|your description( here)?|what the face does)$", re.I)
# A keyframe that moves none of the shapes its description names reaches less than this share
# of what our own parser reads from the description.
NAMED_SHAPE = 0.25
NAMED_SHARE = 1 / 3


def check_on_degenerate(value: str) -> str:
    if value not in DEGENERATE_CHOICES:
        raise BackendError(f"on_degenerate must be one of {', '.join(DEGENERATE_CHOICES)}, not {value!r}")
    return value


def plan_problems(planned: list[PlannedKeyframe]) -> list[str]:
    """Why a plan (in the model's order) says nothing usable; empty when it looks like a plan."""
    problems = []
    times = [k.time for k in planned]
    if any(later <= earlier for earlier, later in zip(times, times[1:])):
        problems.append(f"its times do not increase ({', '.join(f'{t:.2f}' for t in times)} s)")
    descriptions = {" ".join(re.findall(r"[a-z]+", k.description.lower())) for k in planned}
    # A held expression repeats its apex, and a neutral line is neutral throughout; one
    # expression for the whole line is not a plan.
    if len(planned) >= 3 and len(descriptions) == 1 and not _reads_as_neutral(planned[0].description):
        problems.append("every description is the same")
    placeholders = sorted({k.description for k in planned
                           if PLACEHOLDERS.match(k.description.strip()) or len(re.findall(r"[A-Za-z]{2,}", k.description)) < 2})
    if placeholders:
        problems.append(f"placeholder text instead of a description ({', '.join(repr(p) for p in placeholders[:3])})")
    labels = [k.label for k in planned]
    repeated = sorted({label for label in ("onset", "release") if labels.count(label) > 1})
    if len(planned) >= 3 and len(set(labels)) == 1:
        problems.append(f"every label is {labels[0]!r}")
    elif repeated:
        problems.append(f"labels repeat ({', '.join(repeated)} more than once)")
    return problems


def _reads_as_neutral(description: str) -> bool:
    reading = BuiltinBackend().solve([description], 0, "", "")
    return max(reading.weights.values(), default=0.0) < NAMED_SHAPE


def solve_problems(solved: SolvedKeyframe, reading: SolvedKeyframe) -> list[str]:
    """Why a solved keyframe says nothing about its description; ``reading`` is what our own
    parser (the built-in solver) reads from the same description."""
    values = list(solved.weights.values())
    if values and len(set(values)) == 1 and values[0] != 0:
        return [f"all {len(values)} shapes are {values[0]:g}"]
    named = {name: value for name, value in reading.weights.items() if value >= NAMED_SHAPE}
    if named and all(solved.weights.get(name, 0.0) < value * NAMED_SHARE for name, value in named.items()):
        strongest = sorted(named, key=named.get, reverse=True)[:3]
        return [f"none of the shapes the description names moves ({', '.join(strongest)} stay near 0)"]
    return []


def degenerate_plan(planned: list[PlannedKeyframe], fallback: list[PlannedKeyframe], who: str,
                    on_degenerate: str) -> tuple[list[PlannedKeyframe], list[str]]:
    """The model's plan in time order and no note, or (``on_degenerate="builtin"``) the built-in
    plan and a note saying why; ``BackendError`` with ``"fail"``."""
    problems = plan_problems(planned)
    if not problems:
        return sorted(planned, key=lambda k: k.time), [f"Planned by {who}."]
    why = f"The plan from {who} was degenerate: {'; '.join(problems)}"
    if on_degenerate == "fail":
        raise BackendError(why + ". Choose 'builtin' for degenerate answers to plan with the built-in planner instead.")
    return fallback, [why + "; planned with the built-in planner instead."]


def degenerate_solve(solved: SolvedKeyframe, reading: SolvedKeyframe, index: int, who: str,
                     on_degenerate: str) -> SolvedKeyframe:
    """The model's keyframe, or (``on_degenerate="builtin"``) the built-in reading of its
    description with a note saying why; ``BackendError`` with ``"fail"``."""
    problems = solve_problems(solved, reading)
    if not problems:
        return solved
    why = f"Keyframe {index + 1} from {who} was degenerate: {'; '.join(problems)}"
    if on_degenerate == "fail":
        raise BackendError(why + ". Choose 'builtin' for degenerate answers to solve it with the built-in solver instead.")
    return SolvedKeyframe(dict(reading.weights), dict(reading.pose), [*reading.notes, why + "; solved with the built-in solver instead."])


def read_solve_answer(text: str, index: int, fill) -> SolvedKeyframe:
    """One keyframe from a solve answer. ``fill()`` returns the built-in solution that fills
    missing names. Raises ``AnswerError`` when the answer is not usable."""
    try:
        parsed = parse_keyframe_answer(text)
    except FormatError as error:
        raise AnswerError(str(error)) from None
    if len(parsed.missing) > MAX_MISSING:
        raise AnswerError(f"the answer names only {61 - len(parsed.missing)} of the 61 parameters"
                          + (f" (unknown: {', '.join(parsed.ignored[:4])})" if parsed.ignored else ""))
    notes = []
    weights, pose = dict(parsed.weights), dict(parsed.pose)
    if parsed.missing:
        filled = fill()
        for name in parsed.missing:
            if name in filled.weights:
                weights[name] = filled.weights[name]
            else:
                pose[name] = filled.pose[name]
        notes.append(f"Keyframe {index + 1}: the model left out {len(parsed.missing)} parameters "
                     f"({', '.join(parsed.missing[:4])}{', ...' if len(parsed.missing) > 4 else ''}); "
                     "filled from the built-in solver.")
    if parsed.clamped:
        notes.append(f"Keyframe {index + 1}: out-of-range values clamped: {', '.join(parsed.clamped[:6])}.")
    if parsed.ignored:
        notes.append(f"Keyframe {index + 1}: unknown names ignored: {', '.join(parsed.ignored[:6])}.")
    return SolvedKeyframe(weights, pose, notes)


def parse_paper_request(messages: list[dict]) -> tuple[list[str], int, str, str]:
    """The inverse of ``build_messages`` (for our server's OpenAI-compatible route): the
    description sequence, the asked index, background and emotion."""
    user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)
    if not isinstance(user, str) or "Keyframe Description Sequence:" not in user:
        raise FormatError("the user message is not a KeyframeFace request (no 'Keyframe Description Sequence:')")
    descriptions = re.findall(r"^- Keyframe [A-Za-z\- ]+: (.*)$", user, flags=re.M)
    background = re.search(r"^Background: ?(.*)$", user, flags=re.M)
    emotion = re.search(r"^Emotion: ?(.*)$", user, flags=re.M)
    task = re.search(r"Generate the facial expression parameters for Keyframe ([A-Za-z\- ]+)\.", user)
    if not descriptions or not task:
        raise FormatError("the request lists no keyframe descriptions or asks for no keyframe")
    asked = task.group(1).strip().lower()
    names = [number_word(i + 1) for i in range(len(descriptions))]
    if asked not in names:
        raise FormatError(f"the request asks for Keyframe {task.group(1)}, which the sequence does not list")
    return descriptions, names.index(asked), background.group(1) if background else "", emotion.group(1) if emotion else ""


def is_plan_request(messages: list[dict]) -> bool:
    return any(m.get("role") == "system" and PLAN_MARKER in str(m.get("content")) for m in messages)


def plan_request_fields(messages: list[dict]) -> GenerateRequest:
    user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "") or ""

    def field(name):
        match = re.search(rf"^{name}: ?(.*)$", user, flags=re.M)
        value = match.group(1).strip() if match else ""
        return "" if value.startswith("(") else value

    return GenerateRequest(script=field("Script"), context=field("Context"), emotion=field("Emotion"))


def plan_answer(planned: list[PlannedKeyframe]) -> str:
    return json.dumps({"keyframes": [{"time": k.time, "label": k.label, "description": k.description}
                                     for k in planned]})


__all__ = [
    "AnswerError", "DEGENERATE_CHOICES", "LABELS", "PLAN_SCHEMA", "build_messages", "check_on_degenerate",
    "degenerate_plan", "degenerate_solve", "parse_plan_answer", "plan_problems", "solve_problems", "is_plan_request", "parse_paper_request",
    "plan_answer", "plan_messages", "plan_request_fields", "read_plan_answer", "read_solve_answer",
]
