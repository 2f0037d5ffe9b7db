"""What every language-model backend shares: the two prompts and strict reading of answers.

**Solve** speaks the KeyframeFace paper's protocol exactly (``formats.keyframeface_json``): one
request per keyframe, the whole description sequence as context. **Plan** is ours: the model
gets the line with its word timings (from the built-in script timing, which lip sync follows
too) and returns timed keyframe descriptions in ``PLAN_SCHEMA``.

Answers are data, never code: code fences, ``<think>`` blocks and prose around the JSON are
dropped; names are matched by meaning; missing parameters are filled from the built-in solver
and out-of-range values clamped, both reported in the track's notes. An answer that cannot be
read raises ``AnswerError`` so the caller can ask again (a bounded number of times).
"""

from __future__ import annotations

import json
import math
import re

from ..errors import AnswerError, FormatError
from ..formats.keyframeface_json import _first_json_object, build_messages, number_word, parse_keyframe_answer
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


def plan_messages(request: GenerateRequest, plan: Plan) -> list[dict]:
    """The plan prompt: the line, its context and emotion, its duration and word timings."""
    words = ", ".join(f"{word.text}@{word.start:.2f}s" for word in plan.timing.words) or "(no words)"
    user = (
        f"Script: {request.script}\n"
        f"Context: {request.context or '(none)'}\n"
        f"Emotion: {request.emotion or '(read it from the script and context)'}\n"
        f"Duration: {plan.duration:.2f} s\n"
        f"Word timings: {words}\n\n"
        f"Task Instruction: Plan {MIN_KEYFRAMES} to 8 keyframes from 0 to {plan.duration:.2f} seconds, in time "
        f"order: an onset at 0, apexes on stressed words, a release at the end. Labels are one of "
        f"{', '.join(LABELS)}. Answer as JSON: "
        '{"keyframes": [{"time": 0.0, "label": "onset", "description": "..."}]}'
    )
    return [{"role": "system", "content": PLAN_SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def read_plan_answer(text: str, duration: float) -> list[PlannedKeyframe]:
    """Timed keyframe descriptions from a plan answer, or ``AnswerError`` saying what is wrong."""
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
    planned.sort(key=lambda k: k.time)
    return planned


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
    "AnswerError", "LABELS", "PLAN_SCHEMA", "build_messages", "is_plan_request", "parse_paper_request",
    "plan_answer", "plan_messages", "plan_request_fields", "read_plan_answer", "read_solve_answer",
]
