"""Lip sync from the script text: words -> phonemes -> visemes -> ARKit mouth shapes.

Timed on the same word timing as the expression plan. The result is a layer of offsets added
to the expression (a smile while saying "oo" still puckers), keyed at phoneme centres with
co-articulation: consonants inherit the jaw of the vowels around them, lips round ahead of a
rounded vowel, and bilabial closures are always reached. Words we cannot spell out (other
scripts) get a syllable-rate open/close cycle and a note that lip sync is approximate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

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
_OPENING = ("jawOpen", "mouthLowerDown", "mouthUpperUp", "mouthStretch")

# Shapes that open or shape the lips (scaled by a style's lip excursion), and those that round.
_LIP_SHAPES = ("mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft",
               "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthRollLower", "mouthSmileLeft",
               "mouthSmileRight", "tongueOut")
# Expression shapes that part the lips: a bilabial closure takes them back so the lips meet.
_PARTING = ("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthFunnel",
            "mouthStretchLeft", "mouthStretchRight")

# Time the mouth takes to settle to rest at a pause, and the pause length that earns a rest.
REST_MARGIN = 0.08
REST_GAP = 0.12
# A pause at least this long closes the mouth, whatever the expression holds.
PAUSE_CLOSE = 0.3
# How far inside a long recorded bilabial its closure keys sit.
CLOSURE_HOLD = 0.02
# Around a recorded closure its neighbours' shapes are keyed this close to it as well as at
# their centres (when those lie CLOSURE_EDGE_GAP further away), so the lips meet and part
# where the sound says, not somewhere along a slow blend between phone centres.
CLOSURE_EDGE = 0.02
CLOSURE_EDGE_GAP = 0.02
# A recorded p or b released into a pause ("Stop!") parts the lips this soon after it, a
# little, as a t would, before the mouth rests: without it the closure runs on into the pause.
RELEASE_AFTER = 0.03
RELEASE_VISEME = "DD"
RELEASED = ("P", "B")


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


@dataclass
class MouthStyle:
    """How the mouth speaks this line: the delivery (whispered, shouted...) composed with the
    emotion's own way of speaking. Factors scale the visemes; the other fields add shapes
    while speaking. The default is plain, neutral speech."""

    jaw: float = 1.0          # jaw range
    lips: float = 1.0         # lip excursion
    rounding: float = 1.0     # funnel and pucker
    tension: float = 0.0      # mouthPress between words and on consonants
    upper_lip: float = 0.0    # upper lip raised on stressed syllables (teeth show)
    stretch: float = 0.0      # lips stretched sideways (fear)
    frown: float = 0.0        # corners kept down (sadness)
    smile: float = 0.0        # corners kept up (joy)
    one_sided: float = 0.0    # one corner up with a dimple (contempt, sarcasm)
    tremble: float = 0.0      # a quiver of chin and lower lip on vowels (sobbing)
    side: str = "Left"
    speech_cap: float = 1.0   # the expression's own mouth opening is scaled by this while speaking
    capped_shapes: tuple = ()


PLAIN = MouthStyle()


def _phoneme_weight(phoneme: str) -> float:
    viseme = PHONEME_VISEMES.get(phoneme, "nn")
    if viseme in _VOWEL_VISEMES:
        return _WEIGHTS["vowel"]
    if phoneme in _STOPS:
        return _WEIGHTS["stop"]
    return _WEIGHTS["consonant"]


def viseme_sequence(words: list[Word]) -> list[tuple[float, str]]:
    """(centre time, viseme) for every phoneme, with rests at pauses."""
    return [(time, viseme) for time, viseme, _ in _timed_visemes(words)]


def _timed_visemes(words: list[Word]) -> list[tuple[float, str, float]]:
    """(centre time, viseme, gain): at the spoken phones where a recording or a voice timed
    them (gain from how loud each was), else spread over the word by phoneme weight."""
    events: list[tuple[float, str, float]] = []
    previous_end = None
    for n, word in enumerate(words):
        pause_after = n + 1 == len(words) or words[n + 1].start - word.end > REST_GAP
        if previous_end is not None and word.start - previous_end > REST_GAP:
            events.append((previous_end + REST_MARGIN, "sil", 1.0))
            events.append((word.start - REST_MARGIN, "sil", 1.0))
        previous_end = word.end
        if word.phones:
            for phone in word.phones:
                viseme = PHONEME_VISEMES.get(phone.phone, "nn")
                centre = (phone.start + phone.end) / 2
                last_time, last_viseme, last_gain = events[-1] if events else (0.0, "sil", 1.0)
                if viseme == "PP":
                    if last_viseme not in ("PP", "sil") and last_time < phone.start - CLOSURE_EDGE - CLOSURE_EDGE_GAP:
                        # The lips stay apart until the recorded closure starts...
                        events.append((phone.start - CLOSURE_EDGE, last_viseme, last_gain))
                    # ...shut from its start to its release (a held m, a p's silence)...
                    hold = min(CLOSURE_HOLD, (phone.end - phone.start) / 4)
                    events.append((phone.start + hold, viseme, phone.gain))
                    events.append((phone.end - hold, viseme, phone.gain))
                    if phone is word.phones[-1] and pause_after and phone.phone in RELEASED:
                        # At full gain: the p's own loudness is its silent closure's, not the burst's.
                        events.append((phone.end + RELEASE_AFTER, RELEASE_VISEME, 1.0))
                    continue
                if last_viseme == "PP" and centre > phone.start + CLOSURE_EDGE + CLOSURE_EDGE_GAP:
                    # ...and part where it ends, not only by the next phone's centre.
                    events.append((phone.start + CLOSURE_EDGE, viseme, phone.gain))
                events.append((centre, viseme, phone.gain))
            continue
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
            events.append((t + length / 2, viseme, 1.0))
            t += length
    if words:
        # Timed phones are where the sound is: the mouth leaves rest just before it.
        before = REST_MARGIN if words[0].phones else REST_MARGIN * 2
        events.insert(0, (max(0.0, words[0].start - before), "sil", 1.0))
        events.append((words[-1].end + REST_MARGIN, "sil", 1.0))
    return events


def lipsync_channels(words: list[Word], energy: float = 1.0, expression_jaw=None,
                     style: MouthStyle = PLAIN, stressed=(), expression=None) -> dict[str, list[tuple[float, float]]]:
    """Per-channel keys ``[(time, offset)]`` of the lip-sync layer.

    ``expression(names, times)`` (or, older, ``expression_jaw(times)``) gives the expression's
    own value of a shape: a bilabial takes back whatever the expression does to part the lips
    (the jaw with mouthClose, as a speaker does; a raised upper lip, a dropped lower lip), so
    p, b and m always close. ``style`` sets articulation and the emotion's mouth while speaking;
    ``stressed`` holds the indices of stressed words (the upper lip lifts on them in anger)."""
    events, owners, gains = _viseme_events(words)
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
        # ...and the lips round ahead of a rounded vowel ("s" in "soon" is already rounded;
        # the "p" in "put" pushes its sealed lips forward, no funnel that would part them).
        if i + 1 < len(visemes) and visemes[i + 1] in ("O", "U"):
            for channel in ("mouthPucker",) if viseme == "PP" else _ROUNDING:
                ahead = VISEME_SHAPES[visemes[i + 1]].get(channel, 0.0) * 0.6
                shapes[i][channel] = max(shapes[i].get(channel, 0.0), ahead)

    _in_character(shapes, visemes, owners, energy, style, set(stressed))
    # A recording's loudness scales the opening (not the closures: lips meet at any level).
    for shape, viseme, gain in zip(shapes, visemes, gains):
        if viseme not in _CLOSURES and gain != 1.0:
            for name in shape:
                if name.startswith(_OPENING):
                    shape[name] *= gain

    if expression is None and expression_jaw is not None:
        def expression(names, times):  # the older interface: the jaw alone
            return [expression_jaw(times) if name == "jawOpen" else [0.0] * len(times) for name in names]
    if expression is not None:
        _closures_and_cap(shapes, events, owners, style, expression)

    channels: dict[str, list[tuple[float, float]]] = {}
    names = sorted({name for shape in shapes for name in shape})
    times = [round(time, 4) for time, _ in events]
    for name in names:
        keys = [(time, round(min(1.0, max(-1.0, shape.get(name, 0.0))), 4)) for time, shape in zip(times, shapes)]
        channels[name] = _dedupe(keys)
    return channels


def _closures_and_cap(shapes, events, owners, style: MouthStyle, expression) -> None:
    """Compose with the expression's own mouth (``expression(names, times)``: its values).

    While the character speaks (first word to last, pauses included) all but
    ``style.speech_cap`` of the expression's mouth opening is taken back, so a mood that holds
    the mouth open (a gasp, grief) does not hang it open over the words; done in this layer,
    not in the keyframes, so each keyframe stays what its description says. At a bilabial the
    rest of what parts the lips is taken back too (the jaw with mouthClose, as a speaker does),
    so p, b and m always close. In a pause longer than ``PAUSE_CLOSE`` the mouth closes: the
    rest keys take back the expression's jaw and lip parting."""
    names = list(dict.fromkeys(("jawOpen",) + _PARTING + tuple(style.capped_shapes)))
    values = dict(zip(names, np.asarray(expression(names, [time for time, _ in events]), dtype=float)))
    speaking = [i for i, owner in enumerate(owners) if owner is not None]
    inside = range(speaking[0], speaking[-1] + 1) if speaking and style.speech_cap < 1.0 else range(0)
    for name in style.capped_shapes:
        for i in inside:
            if values[name][i] > 0.0:
                shapes[i][name] = shapes[i].get(name, 0.0) - values[name][i] * (1.0 - style.speech_cap)
    for i in _pause_rests(events):
        for name in ("jawOpen",) + _PARTING:
            if values[name][i] > 0.0:
                shapes[i][name] = shapes[i].get(name, 0.0) - values[name][i]
    for i, (_, viseme) in enumerate(events):
        if viseme != "PP":
            continue
        kept = {name: style.speech_cap if (i in inside and name in style.capped_shapes) else 1.0 for name in names}
        shapes[i]["mouthClose"] = max(shapes[i].get("mouthClose", 0.0), values["jawOpen"][i] * kept["jawOpen"])
        for name in _PARTING:
            if values[name][i] > 0.0:
                shapes[i][name] = shapes[i].get(name, 0.0) - values[name][i] * kept[name]


def _pause_rests(events) -> list[int]:
    """The rest keys inside a pause longer than ``PAUSE_CLOSE`` (the pair around a pause
    between words, and the rest before the first word when the line starts late)."""
    rests = []
    for i in range(len(events) - 1):
        (time, viseme), (next_time, next_viseme) = events[i], events[i + 1]
        if viseme == next_viseme == "sil" and next_time - time + 2 * REST_MARGIN > PAUSE_CLOSE:
            rests += [i, i + 1]
    if events and events[0][1] == "sil" and events[0][0] > PAUSE_CLOSE - REST_MARGIN:
        rests.append(0)
    return sorted(set(rests))


def _in_character(shapes: list[dict], visemes: list[str], owners: list[int | None], energy: float,
                  style: MouthStyle, stressed: set[int]) -> None:
    """Scale the visemes by the style's articulation and add the emotion's mouth while speaking.
    Closures keep their lip contact: nothing is added that would part the lips there."""
    other = "Right" if style.side == "Left" else "Left"
    vowel_count = 0
    for i, (shape, viseme) in enumerate(zip(shapes, visemes)):
        if "jawOpen" in shape:
            shape["jawOpen"] *= energy * style.jaw
        for name in _LIP_SHAPES:
            if name in shape:
                shape[name] *= style.lips * (style.rounding if name in _ROUNDING else 1.0)
        speaking = owners[i] is not None
        if viseme in _CLOSURES and viseme == "PP":
            continue
        added: dict[str, float] = {}
        vowel = viseme in _VOWEL_VISEMES
        if style.tension and (viseme == "sil" or not vowel):
            # Lips tighten between words and on consonants.
            press = style.tension * (1.0 if viseme == "sil" else 0.5)
            added.update(mouthPressLeft=press, mouthPressRight=press)
        if not speaking:
            _add(shape, added)
            continue
        if style.upper_lip and vowel:
            lift = style.upper_lip * (1.0 if owners[i] in stressed else 0.35)
            added.update(mouthUpperUpLeft=lift, mouthUpperUpRight=lift)
        if style.stretch:
            added.update(mouthStretchLeft=style.stretch, mouthStretchRight=style.stretch)
        if style.frown:
            added.update(mouthFrownLeft=style.frown, mouthFrownRight=style.frown)
        if style.smile:
            added.update(mouthSmileLeft=style.smile, mouthSmileRight=style.smile)
        if style.one_sided:
            # The planned face already carries the one-sided smile; speech keeps the other
            # corner from evening it out and deepens the dimple.
            added[f"mouthDimple{style.side}"] = style.one_sided * 0.5
            added[f"mouthSmile{other}"] = added.get(f"mouthSmile{other}", 0.0) - style.one_sided * 0.5
        if style.tremble and vowel:
            vowel_count += 1
            if vowel_count % 2:
                added.update(mouthShrugLower=style.tremble, mouthLowerDownLeft=style.tremble * 0.3,
                             mouthLowerDownRight=style.tremble * 0.3)
        _add(shape, added)


def _add(shape: dict, added: dict) -> None:
    for name, value in added.items():
        shape[name] = shape.get(name, 0.0) + value


def _viseme_events(words: list[Word]) -> tuple[list[tuple[float, str]], list[int | None], list[float]]:
    """The viseme sequence and, for each event, the index of the word it belongs to (None for
    rests) and its loudness gain."""
    timed = _timed_visemes(words)
    events = [(time, viseme) for time, viseme, _ in timed]
    owners: list[int | None] = []
    w = 0
    for time, viseme in events:
        if viseme == "sil":
            owners.append(None)
            continue
        while w + 1 < len(words) and time > words[w].end:
            w += 1
        owners.append(w)
    return events, owners, [gain for _, _, gain in timed]


def _dedupe(keys: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Strictly increasing times (two phonemes can share a centre only in degenerate input)."""
    result: list[tuple[float, float]] = []
    for time, value in keys:
        if result and time <= result[-1][0]:
            time = result[-1][0] + 0.001
        result.append((time, value))
    return result
