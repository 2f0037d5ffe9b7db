"""The values a generation passes from stage to stage: the request, the plan (timed keyframe
descriptions) and the solved keyframes. ``compose.compose_track`` turns them into a ``Track``.

A module of its own so that the backends (which plan and solve) and compose (which consumes
both) share these types without importing each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .audio.alignment import Alignment
from .errors import InputError
from .limits import MAX_FPS, MIN_FPS
from .lipsync import MouthStyle
from .script_timing import ScriptTiming

MAX_SCRIPT_CHARACTERS = 20000
MAX_FIELD_CHARACTERS = 4000


def check_text(value: str, what: str) -> str:
    """Text that can be written as UTF-8: bytes that were not UTF-8 (from a shell or a file)
    arrive as lone surrogates and are refused here, before any file is touched."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(f"{what} holds bytes that are not UTF-8 text (at character {error.start + 1}); "
                         "retype it or fix the terminal's encoding") from None
    return value


@dataclass
class GenerateRequest:
    """What the user asks for. ``validated()`` returns a copy with clean values or raises
    ``InputError`` with a message that names the field."""

    script: str
    context: str = ""
    emotion: str = ""
    seed: int = 0
    fps: float = 30.0
    intensity: float = 1.0
    options: dict = field(default_factory=dict)
    # The line's recording as the clock (``model_runtime.audio.sync``): the alignment times the
    # plan and the lip sync; ``audio`` is what the track records about the recording.
    alignment: Alignment | None = None
    audio: dict = field(default_factory=dict)

    def validated(self) -> "GenerateRequest":
        for name in ("script", "context", "emotion"):
            value = getattr(self, name)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise InputError(f"{name} must be text")
            check_text(value, f"The {name}")
        script = " ".join(self.script.split()) if self.script else ""
        if not script:
            raise InputError("The script is empty: type the line the character says.")
        if len(script) > MAX_SCRIPT_CHARACTERS:
            raise InputError(
                f"The script has {len(script):,} characters; the limit is {MAX_SCRIPT_CHARACTERS:,}. "
                "Split long dialogue into lines."
            )
        for name in ("context", "emotion"):
            if len(getattr(self, name) or "") > MAX_FIELD_CHARACTERS:
                raise InputError(f"The {name} has more than {MAX_FIELD_CHARACTERS:,} characters.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError("seed must be a whole number")
        for name, low, high in (("fps", MIN_FPS, MAX_FPS), ("intensity", 0.0, 2.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"{name} must be a finite number")
            if not low <= value <= high:
                raise InputError(f"{name} = {value:g} is outside [{low:g}, {high:g}]")
        return GenerateRequest(
            script=script,
            context=" ".join((self.context or "").split()),
            emotion=" ".join((self.emotion or "").split()),
            seed=int(self.seed),
            fps=float(self.fps),
            intensity=float(self.intensity),
            options=dict(self.options or {}),
            alignment=self.alignment,
            audio=dict(self.audio or {}),
        )


@dataclass
class PlannedKeyframe:
    time: float
    label: str
    description: str


@dataclass
class Plan:
    """Timed keyframe descriptions, plus the script timing lip sync follows."""

    keyframes: list[PlannedKeyframe]
    timing: ScriptTiming
    duration: float
    blink_rate: float = 1.0
    # How fast a blink closes and opens (below 1: slower, as in sadness and tiredness).
    blink_speed: float = 1.0
    speech_energy: float = 1.0
    # How the mouth speaks (delivery and the emotion's mouth); None: plain speech.
    mouth: MouthStyle | None = None
    notes: list[str] = field(default_factory=list)
    analysis: dict = field(default_factory=dict)


@dataclass
class SolvedKeyframe:
    weights: dict[str, float]
    pose: dict[str, float]
    notes: list[str] = field(default_factory=list)
