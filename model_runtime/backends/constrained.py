"""Constrained decoding: a language model may only write text that stays a valid prefix of a
fixed JSON shape, with numbers inside their ranges, so even a small model always yields a
usable keyframe or plan.

The shape is a sequence of segments (``Literal``, ``Number``, ``Choice``, ``Text``). Two
readers of one shape:

- ``Grammar`` follows text character by character in pure Python: the reference the tests
  hold the engine to, and the fallback mask (``TokenTable.allowed``).
- ``Grammar.lark()`` writes the same shape as a Lark grammar for llguidance, the engine that
  masks the vocabulary and fast-forwards the fixed text while decoding (``decoding.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..arkit import BLENDSHAPE_RANGE, LIVE_LINK_FACE_COLUMNS, POSE, POSE_RANGE, pascal


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Number:
    low: float
    high: float
    decimals: int = 3


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]


@dataclass(frozen=True)
class Text:
    max_length: int = 200


_NUMBER_PREFIX = re.compile(r"-?((0|[1-9]\d*)(\.\d*)?)?")
_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")


def _number_prefix_ok(text: str, segment: Number) -> bool:
    if not _NUMBER_PREFIX.fullmatch(text):
        return False
    if text.startswith("-") and segment.low >= 0:
        return False
    if "." in text and len(text.split(".", 1)[1]) > segment.decimals:
        return False
    digits = text.lstrip("-").rstrip(".")
    if digits:
        # Appending digits only moves away from zero: the prefix is the smallest magnitude left.
        bound = -segment.low if text.startswith("-") else segment.high
        if float(digits) > bound:
            return False
    return True


def _number_complete(text: str, segment: Number) -> bool:
    return bool(_NUMBER.fullmatch(text)) and segment.low <= float(text) <= segment.high


class Grammar:
    """A fixed sequence of segments. States are ``(segment index, text so far in it)``."""

    def __init__(self, segments: list):
        merged = []
        for segment in segments:
            if isinstance(segment, Literal) and merged and isinstance(merged[-1], Literal):
                merged[-1] = Literal(merged[-1].text + segment.text)
            else:
                merged.append(segment)
        self.segments = merged
        self.start = (0, "")

    def done(self, state) -> bool:
        return state[0] >= len(self.segments)

    def advance(self, state, text: str):
        """The state after ``text``, or None when ``text`` breaks the grammar."""
        index, buffer = state
        for char in text:
            while True:
                if index >= len(self.segments):
                    return None
                segment = self.segments[index]
                if isinstance(segment, Literal):
                    if segment.text[len(buffer)] != char:
                        return None
                    buffer += char
                    if len(buffer) == len(segment.text):
                        index, buffer = index + 1, ""
                    break
                if isinstance(segment, Number):
                    if _number_prefix_ok(buffer + char, segment):
                        buffer += char
                        break
                    if _number_complete(buffer, segment):
                        index, buffer = index + 1, ""
                        continue  # the character belongs to the next segment
                    return None
                if isinstance(segment, Choice):
                    if any(option.startswith(buffer + char) for option in segment.options):
                        buffer += char
                        break
                    if buffer in segment.options:
                        index, buffer = index + 1, ""
                        continue
                    return None
                # Text: anything but a quote, backslash or control character, up to a length,
                # starting with a visible character (so it is never blank).
                if char == '"' and buffer:
                    index, buffer = index + 1, ""
                    continue
                if char in '"\\' or ord(char) < 32 or len(buffer) >= segment.max_length or (not buffer and char.isspace()):
                    return None
                buffer += char
                break
        return index, buffer


    def lark(self) -> str:
        """The same shape as a Lark grammar (llguidance's dialect): literals as JSON strings,
        numbers, choices and text as regular expressions."""
        parts = []
        for segment in self.segments:
            if isinstance(segment, Literal):
                parts.append(json.dumps(segment.text))
            elif isinstance(segment, Number):
                parts.append(f"/{number_regex(segment.low, segment.high, segment.decimals)}/")
            elif isinstance(segment, Choice):
                parts.append("(" + " | ".join(json.dumps(option) for option in segment.options) + ")")
            else:
                rest = max(0, segment.max_length - 1)
                parts.append(f'/[^"\\\\\\x00-\\x20][^"\\\\\\x00-\\x1f]{{0,{rest}}}/')
        return "start: " + " ".join(parts) + "\n"


def _digits_at_most(limit: str, first: bool = True) -> str:
    """Regex for digit strings as long as ``limit`` whose value is at most ``limit`` (no leading
    zero when ``first`` and longer than one digit)."""
    head, rest = int(limit[0]), limit[1:]
    low = 1 if first and rest else 0
    options = []
    if head > low:
        options.append(f"[{low}-{head - 1}]" + (f"[0-9]{{{len(rest)}}}" if rest else ""))
    if head >= low:
        options.append(str(head) + (f"({_digits_at_most(rest, False)})" if rest else ""))
    return "|".join(options)


def _integer_at_most(limit: int) -> str:
    """Regex for whole numbers 0..limit written without leading zeros."""
    text = str(limit)
    options = ["[0-9]"] if len(text) > 1 else []
    options += [f"[1-9][0-9]{{{n - 1}}}" for n in range(2, len(text))]
    options.append(_digits_at_most(text))
    return "|".join(options)


def _fraction_at_most(limit: str) -> str:
    """Regex for 1..len(limit) fraction digits whose value is at most ``.limit``."""
    head, rest = int(limit[0]), limit[1:]
    options = []
    if head > 0:
        options.append(f"[0-{head - 1}]" + (f"[0-9]{{0,{len(rest)}}}" if rest else ""))
    options.append(str(head) + (f"({_fraction_at_most(rest)})?" if rest else ""))
    return "|".join(options)


def number_regex(low: float, high: float, decimals: int) -> str:
    """A regular expression for JSON numbers in [low, high] with at most ``decimals`` decimals,
    written as the reference grammar accepts them (``-?(0|[1-9]\\d*)(\\.\\d+)?``). ``low`` is 0
    or ``-high``."""
    if low not in (0, -high) or high < 0:
        raise ValueError("number_regex handles [0, high] and [-high, high]")
    scaled = round(high * 10 ** decimals)
    whole, fraction = divmod(scaled, 10 ** decimals)
    any_fraction = f"(\\.[0-9]{{1,{decimals}}})?" if decimals else ""
    options = []
    if whole > 0:
        options.append(f"({_integer_at_most(whole - 1)}){any_fraction}")
    top = str(whole)
    if decimals:
        top += f"(\\.({_fraction_at_most(str(fraction).rjust(decimals, '0'))}))?"
    options.append(top)
    body = "|".join(options)
    return f"-?({body})" if low < 0 else f"({body})"


class TokenTable:
    """The decoded text of every vocabulary entry, grouped by first character."""

    def __init__(self, tokenizer):
        self.eos = tokenizer.eos_token_id
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        self.strings: dict[int, str] = {}
        self.by_first: dict[str, list[int]] = {}
        for token_id in range(len(tokenizer)):
            if token_id in special:
                continue
            text = tokenizer.decode([token_id])
            if not text or "\ufffd" in text:
                continue
            self.strings[token_id] = text
            self.by_first.setdefault(text[0], []).append(token_id)

    def allowed(self, grammar: Grammar, state) -> list[int]:
        if grammar.done(state):
            return [self.eos] if self.eos is not None else []
        allowed = []
        for first, ids in self.by_first.items():
            if grammar.advance(state, first) is None:
                continue
            allowed.extend(i for i in ids if grammar.advance(state, self.strings[i]) is not None)
        return allowed


def keyframe_grammar(key: str = "Keyframe_one") -> Grammar:
    """``{"Keyframe_one": {"EyeBlinkLeft": 0.0, ..., "RightEyeRoll": 0.0}}`` in Live Link Face order."""
    segments: list = [Literal(f'{{"{key}": {{')]
    names = [(pascal(n), BLENDSHAPE_RANGE) for n in LIVE_LINK_FACE_COLUMNS] + [(pascal(n), POSE_RANGE) for n in POSE]
    for i, (name, (low, high)) in enumerate(names):
        segments += [Literal(f'"{name}": '), Number(low, high, 3)]
        if i + 1 < len(names):
            segments.append(Literal(", "))
    segments.append(Literal("}}"))
    return Grammar(segments)


def plan_grammar(count: int, duration: float, labels: tuple[str, ...], max_description: int = 200) -> Grammar:
    """``{"keyframes": [{"time": t, "label": "apex", "description": "..."}, ...]}`` with ``count`` keyframes."""
    segments: list = [Literal('{"keyframes": [')]
    for i in range(count):
        segments += [Literal('{"time": '), Number(0.0, round(duration, 2), 2), Literal(', "label": "'),
                     Choice(labels), Literal('", "description": "'), Text(max_description), Literal('"}')]
        if i + 1 < count:
            segments.append(Literal(", "))
    segments.append(Literal("]}"))
    return Grammar(segments)
