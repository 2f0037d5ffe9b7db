"""Lip sync from the script text: words -> phonemes -> visemes -> ARKit mouth shapes.

Timed on the same word timing as the expression plan. The result is a layer of offsets added
to the expression (a smile while saying "oo" still puckers), keyed at phoneme centres with
co-articulation: consonants inherit the jaw of the vowels around them, lips round ahead of a
rounded vowel, and bilabial closures are always reached. Words we cannot spell out (other
scripts) get a syllable-rate open/close cycle and a note that lip sync is approximate.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ._data import load_json
from .pronouncing import lookup
from .script_timing import Word

_TABLES = load_json("visemes.json")
_RULES = [(re.compile(pattern), phonemes.split()) for pattern, phonemes in _TABLES["letter_to_sound"]]
PHONEME_VISEMES: dict[str, str] = _TABLES["phoneme_visemes"]
VISEME_SHAPES: dict[str, dict[str, float]] = _TABLES["viseme_shapes"]
_WEIGHTS = _TABLES["phoneme_weight"]
_STOPS = set(_TABLES["stops"])
_CLOSURES = set(_TABLES["closures"])
_VOWEL_VISEMES = {"aa", "E", "I", "O", "U"}
_ROUNDING = ("mouthPucker", "mouthFunnel")

# Time the mouth takes to settle to rest at a pause, and the pause length that earns a rest.
REST_MARGIN = 0.08
REST_GAP = 0.12


@lru_cache(maxsize=8192)
def letter_to_sound(word: str) -> tuple[str, ...]:
    """ARPAbet phonemes for an English spelling by ordered rules (a fallback for words the
    pronouncing dictionary lacks)."""
    text = re.sub(r"[^a-z]", "", word.lower())
    phonemes: list[str] = []
    i = 0
    while i < len(text):
        for pattern, output in _RULES:
            match = pattern.match(text, i)
            if match and match.end() > i:
                phonemes.extend(output)
                i = match.end()
                break
        else:
            i += 1
    return tuple(phonemes)


def phonemes_for(word: str) -> tuple[str, ...]:
    found = lookup(word)
    return found if found else letter_to_sound(word)


def _phoneme_weight(phoneme: str) -> float:
    viseme = PHONEME_VISEMES.get(phoneme, "nn")
    if viseme in _VOWEL_VISEMES:
        return _WEIGHTS["vowel"]
    if phoneme in _STOPS:
        return _WEIGHTS["stop"]
    return _WEIGHTS["consonant"]


def viseme_sequence(words: list[Word]) -> list[tuple[float, str]]:
    """(centre time, viseme) for every phoneme, with rests at pauses."""
    events: list[tuple[float, str]] = []
    previous_end = None
    for word in words:
        if previous_end is not None and word.start - previous_end > REST_GAP:
            events.append((previous_end + REST_MARGIN, "sil"))
            events.append((word.start - REST_MARGIN, "sil"))
        if word.latin:
            visemes = [PHONEME_VISEMES.get(p, "nn") for p in phonemes_for(word.text)] or ["nn"]
            weights = [_phoneme_weight(p) for p in phonemes_for(word.text)] or [1.0]
        else:
            visemes = _TABLES["syllable_fallback"] * word.syllables
            weights = [_WEIGHTS["vowel"], _WEIGHTS["consonant"]] * word.syllables
        total = sum(weights)
        t = word.start
        span = word.end - word.start
        for viseme, weight in zip(visemes, weights):
            length = span * weight / total
            events.append((t + length / 2, viseme))
            t += length
        previous_end = word.end
    if words:
        events.insert(0, (max(0.0, words[0].start - REST_MARGIN * 2), "sil"))
        events.append((words[-1].end + REST_MARGIN, "sil"))
    return events


def lipsync_channels(words: list[Word], energy: float = 1.0, expression_jaw=None) -> dict[str, list[tuple[float, float]]]:
    """Per-channel keys ``[(time, offset)]`` of the lip-sync layer.

    ``expression_jaw(times)`` gives the expression's own jawOpen: where the emotion holds the
    jaw open (a gasp, a shout), bilabials close the lips with mouthClose instead of the jaw,
    as a speaker does."""
    events = viseme_sequence(words)
    if not events:
        return {}
    shapes = [dict(VISEME_SHAPES[v]) for _, v in events]
    visemes = [v for _, v in events]

    for i, viseme in enumerate(visemes):
        if viseme in _VOWEL_VISEMES or viseme == "sil":
            continue
        # Co-articulation: a consonant keeps part of the jaw opening of its vowel neighbours...
        neighbours = [VISEME_SHAPES[visemes[j]].get("jawOpen", 0.0)
                      for j in (i - 1, i + 1) if 0 <= j < len(visemes) and visemes[j] in _VOWEL_VISEMES]
        if neighbours and viseme not in _CLOSURES:
            shapes[i]["jawOpen"] = max(shapes[i].get("jawOpen", 0.0), 0.45 * sum(neighbours) / len(neighbours))
        # ...and the lips round ahead of a rounded vowel ("s" in "soon" is already rounded).
        if i + 1 < len(visemes) and visemes[i + 1] in ("O", "U"):
            for channel in _ROUNDING:
                ahead = VISEME_SHAPES[visemes[i + 1]].get(channel, 0.0) * 0.6
                shapes[i][channel] = max(shapes[i].get(channel, 0.0), ahead)

    if expression_jaw is not None:
        closures = [i for i, v in enumerate(visemes) if v == "PP"]
        if closures:
            open_jaw = expression_jaw([events[i][0] for i in closures])
            for i, jaw in zip(closures, open_jaw):
                shapes[i]["mouthClose"] = max(shapes[i].get("mouthClose", 0.0), float(jaw))

    channels: dict[str, list[tuple[float, float]]] = {}
    names = sorted({name for shape in shapes for name in shape})
    for name in names:
        keys = []
        for (time, viseme), shape in zip(events, shapes):
            value = shape.get(name, 0.0)
            if name == "jawOpen":
                value *= energy
            keys.append((round(time, 4), round(min(1.0, value), 4)))
        channels[name] = _dedupe(keys)
    return channels


def _dedupe(keys: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Strictly increasing times (two phonemes can share a centre only in degenerate input)."""
    result: list[tuple[float, float]] = []
    for time, value in keys:
        if result and time <= result[-1][0]:
            time = result[-1][0] + 0.001
        result.append((time, value))
    return result
