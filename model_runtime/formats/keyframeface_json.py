"""KeyframeFace JSON and the paper's chat protocol (arXiv 2512.11321).

One keyframe per object: ``{"Keyframe_one": {"EyeBlinkLeft": 0.0, ..., "RightEyeRoll": 0.0}}``
with the 52 blendshapes in PascalCase (Live Link Face order) in [0, 1] and 9 head/eye pose
values in [-1, 1]. ``build_messages`` writes the paper's system and user messages exactly;
``parse_keyframe_answer`` reads a model's answer strictly (code fences, ``<think>`` blocks
and prose around the JSON are ignored; names are matched by meaning, never by position).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from ..arkit import BLENDSHAPE_INDEX, BLENDSHAPES, LIVE_LINK_FACE_COLUMNS, POSE, pascal, to_arkit
from ..errors import FormatError
from ..files import check_json_depth, loads_json

SYSTEM_MESSAGE = (
    "You are a professional facial animator. Generate all 61 ARKit facial parameters for exactly one "
    "requested semantic keyframe. The first 52 blendshapes are in [0,1], and the final 9 head/eye pose "
    "parameters are in [-1,1]. Return strict JSON only in the form {\"Keyframe_x\":{...}}."
)

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_word(n: int) -> str:
    """1 -> "one", 21 -> "twenty-one" (the paper names keyframes in words)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    return str(n)


def keyframe_key(index: int) -> str:
    """0 -> "Keyframe_one"."""
    return f"Keyframe_{number_word(index + 1)}"


def to_keyframeface(weights: dict[str, float], pose: dict[str, float], index: int = 0) -> dict:
    parameters = {pascal(name): round(float(weights[name]), 4) for name in LIVE_LINK_FACE_COLUMNS}
    parameters.update({pascal(name): round(float(pose[name]), 4) for name in POSE})
    return {keyframe_key(index): parameters}


def build_messages(descriptions: list[str], background: str, emotion: str, index: int) -> list[dict]:
    """The paper's two chat messages asking for keyframe ``index`` of the sequence."""
    lines = ["Keyframe Description Sequence:"]
    for i, description in enumerate(descriptions):
        lines.append(f"- Keyframe {number_word(i + 1).title()}: {description}")
    user = "\n".join(lines) + (
        f"\n\nBackground: {background}\nEmotion: {emotion}\n\n"
        f"Task Instruction: Generate the facial expression parameters for Keyframe {number_word(index + 1).title()}."
    )
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


@dataclass
class ParsedKeyframe:
    weights: dict[str, float]
    pose: dict[str, float]
    missing: list[str] = field(default_factory=list)
    clamped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    key: str = ""


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def _first_json_object(text: str):
    """The first complete JSON object in ``text`` (prose before or after is ignored);
    ``FormatError`` when the text nests deeper than a keyframe ever does."""
    check_json_depth(text, "the answer")
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def parse_keyframe_answer(text: str) -> ParsedKeyframe:
    """Read one keyframe from a model answer. Raises ``FormatError`` when no keyframe object
    can be found or a value is not a finite number. Missing names are listed (the caller
    fills them); out-of-range values are clamped and listed."""
    if not isinstance(text, str) or not text.strip():
        raise FormatError("the answer is empty")
    cleaned = _THINK.sub("", text)
    cleaned = re.sub(r"<think>.*", "", cleaned, flags=re.S | re.I)  # an unclosed think block
    fenced = _FENCE.search(cleaned)
    candidate = _first_json_object(fenced.group(1)) if fenced else None
    if candidate is None:
        candidate = _first_json_object(cleaned)
    if candidate is None:
        raise FormatError("no JSON object found in the answer")
    key = ""
    inner = candidate
    if len(candidate) == 1:
        (only_key, only_value), = candidate.items()
        if isinstance(only_value, dict):
            key, inner = only_key, only_value
    weights: dict[str, float] = {}
    pose: dict[str, float] = {}
    clamped, ignored = [], []
    for raw_name, raw_value in inner.items():
        name = to_arkit(str(raw_name))
        if name is None:
            ignored.append(str(raw_name))
            continue
        if isinstance(raw_value, bool) or not isinstance(raw_value, (int, float)):
            try:
                raw_value = float(raw_value)
            except (TypeError, ValueError):
                raise FormatError(f"{raw_name} is not a number: {raw_value!r}") from None
        value = float(raw_value)
        if not math.isfinite(value):
            raise FormatError(f"{raw_name} is {value}; values must be finite")
        low, high = (0.0, 1.0) if name in BLENDSHAPE_INDEX else (-1.0, 1.0)
        if value < low or value > high:
            clamped.append(raw_name)
            value = min(max(value, low), high)
        (weights if name in BLENDSHAPE_INDEX else pose)[name] = value
    if not weights and not pose:
        raise FormatError("the JSON object has no ARKit parameter names")
    missing = [n for n in BLENDSHAPES if n not in weights] + [n for n in POSE if n not in pose]
    return ParsedKeyframe(weights, pose, missing, clamped, ignored, key)


def read_keyframeface_json(text: str) -> list[ParsedKeyframe]:
    """Keyframes from a KeyframeFace JSON document: one object ``{"Keyframe_one": {...}}``, an
    object with several ``Keyframe_*`` entries, a list of such objects, or JSON lines."""
    documents = []
    stripped = text.strip()
    if not stripped:
        raise FormatError("the file is empty")
    check_json_depth(stripped, "the file")
    try:
        documents.append(loads_json(stripped, "the file"))
    except FormatError:
        for number, line in enumerate(stripped.splitlines(), start=1):
            if line.strip():
                documents.append(loads_json(line, f"line {number}"))
    keyframes: list[ParsedKeyframe] = []
    for document in documents:
        items = document if isinstance(document, list) else [document]
        for item in items:
            if not isinstance(item, dict):
                raise FormatError("expected objects of the form {\"Keyframe_one\": {...}}")
            for key, value in item.items():
                if not isinstance(value, dict):
                    raise FormatError(f"{key} must hold an object of 61 parameters")
                parsed = parse_keyframe_answer(json.dumps({key: value}))
                keyframes.append(parsed)
    return keyframes
