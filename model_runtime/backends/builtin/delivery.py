"""Delivery: how a line is spoken (whispered, said, shouted, through clenched teeth...).

Read from the emotion field first ("fearful whisper"), then the context ("she whispers to the
operator"), then the script (capitals, "!"). The vocabulary and every factor are data
(``data/delivery.json``). A delivery word that is not also an emotion word is taken out of the
emotion text, so "whispering" is never reported as an unknown emotion; one that is
("sarcastic", "sobbing") stays and is read as an emotion too.

``mouth_style`` combines the delivery with how the emotion's mouth speaks (anger tight with
the teeth showing, sadness small with the corners down...) into the ``MouthStyle`` lip sync
composes with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..._data import load_json
from ...lipsync import MouthStyle
from .emotion import INTENSIFIERS, LEXICON

_TABLE = load_json("delivery.json")
DELIVERIES: dict = _TABLE["deliveries"]
DEFAULT = _TABLE["default"]
_SCRIPT = _TABLE["script"]
_INTENSITY = _TABLE["intensity_articulation"]
_CHARACTER = _TABLE["mouth_character"]
CHARACTER_FAMILIES: dict = _CHARACTER["families"]

_PHRASES = {phrase: name for name, spec in DELIVERIES.items() for phrase in spec["words"]}
_PATTERN = re.compile(
    r"(?<![\w'-])(?:" + "|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True)) + r")(?![\w'-])"
)
_FACTORS = ("jaw", "lips", "tension", "rate", "pause", "head", "blink", "expression")
_EXTRAS = ("upper_lip", "one_sided", "tremble", "smile")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


@dataclass
class Delivery:
    name: str = DEFAULT
    source: str = "default"  # "emotion", "context", "script" or "default"
    phrase: str = ""
    loudness: float = 0.0
    jaw: float = 1.0
    lips: float = 1.0
    tension: float = 0.0
    rate: float = 1.0
    pause: float = 1.0
    head: float = 1.0
    blink: float = 1.0
    expression: float = 1.0
    upper_lip: float = 0.0
    one_sided: float = 0.0
    tremble: float = 0.0
    smile: float = 0.0
    implies: str = ""

    def note(self) -> str | None:
        if self.source == "default":
            return None
        where = {"emotion": "the emotion field", "context": "the context", "script": "the script"}[self.source]
        return f"Delivery: {self.name} (from {where}: '{self.phrase}')."

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "phrase": self.phrase, "loudness": self.loudness,
                **{k: getattr(self, k) for k in _FACTORS + _EXTRAS}}


def delivery_named(name: str, source: str = "default", phrase: str = "") -> Delivery:
    spec = DELIVERIES[name]
    return Delivery(name=name, source=source, phrase=phrase, loudness=spec["loudness"],
                    implies=spec.get("implies", ""),
                    **{k: float(spec.get(k, 1.0 if k in _FACTORS and k != "tension" else 0.0)) for k in _FACTORS + _EXTRAS})


def _find(text: str) -> re.Match | None:
    return _PATTERN.search(" ".join(text.lower().replace("’", "'").split()))


def _from_script(script: str) -> tuple[str, str] | None:
    words = [w for w in _WORD.findall(script) if len(w) > 1 and w.isascii()]
    capitals = [w for w in words if w.isupper()]
    if words and len(capitals) >= 2 and len(capitals) / len(words) >= _SCRIPT["capitals_fraction"]:
        return _SCRIPT["capitals"], "capitals"
    marks = script.count("!")
    if marks >= 2:
        return _SCRIPT["exclamations"], "!" * marks
    if marks == 1:
        return _SCRIPT["exclamation"], "!"
    return None


def read_delivery(emotion: str, context: str = "", script: str = "") -> tuple[Delivery, str]:
    """The delivery of a line and the emotion text left to read as an emotion."""
    text = " ".join(emotion.lower().replace("’", "'").split())
    found = _PATTERN.search(text)
    if found:
        phrase = found.group(0)
        delivery = delivery_named(_PHRASES[phrase], "emotion", phrase)
        remaining = text
        if phrase not in LEXICON and phrase not in INTENSIFIERS:
            remaining = (text[: found.start()] + " " + text[found.end():]).strip(" ,;.-")
            remaining = " ".join(remaining.split())
            if not _WORD.search(remaining) and delivery.implies:
                remaining = delivery.implies
        return delivery, remaining
    in_context = _find(context)
    if in_context:
        phrase = in_context.group(0)
        return delivery_named(_PHRASES[phrase], "context", phrase), emotion
    from_script = _from_script(script)
    if from_script:
        name, phrase = from_script
        return delivery_named(name, "script", phrase), emotion
    return delivery_named(DEFAULT), emotion


def articulation_scale(intensity: float) -> float:
    """``--intensity`` scales articulation too: 1 at intensity 1, less below, more above."""
    return _INTENSITY["base"] + _INTENSITY["slope"] * intensity


def mouth_style(delivery: Delivery, families: dict[str, float], emotion_intensity: float,
                intensity: float, one_side: str = "Left") -> MouthStyle:
    """The mouth of this line: the delivery's articulation composed with the emotion's way of
    speaking (each family weighted by its share and the emotion's intensity)."""
    strength = min(1.0, max(0.0, emotion_intensity)) * intensity
    factors = {"jaw": 1.0, "lips": 1.0, "rounding": 1.0}
    extras = {"tension": 0.0, "upper_lip": 0.0, "stretch": 0.0, "frown": 0.0, "smile": 0.0, "one_sided": 0.0}
    for family, weight in families.items():
        spec = CHARACTER_FAMILIES.get(family, {})
        share = weight * min(1.0, strength)
        for name in factors:
            factors[name] += share * (spec.get(name, 1.0) - 1.0)
        for name in extras:
            extras[name] += weight * strength * spec.get(name, 0.0)
    scale = articulation_scale(intensity)
    return MouthStyle(
        jaw=factors["jaw"] * delivery.jaw * scale,
        lips=factors["lips"] * delivery.lips * scale,
        rounding=factors["rounding"],
        tension=min(1.0, extras["tension"] + delivery.tension),
        upper_lip=min(1.0, extras["upper_lip"] + delivery.upper_lip),
        stretch=min(1.0, extras["stretch"]),
        frown=min(1.0, extras["frown"]),
        smile=min(1.0, extras["smile"] + delivery.smile),
        one_sided=min(1.0, extras["one_sided"] + delivery.one_sided),
        tremble=delivery.tremble,
        side=one_side,
        speech_cap=_CHARACTER["speech_cap"],
        capped_shapes=tuple(_CHARACTER["capped_shapes"]),
    )
