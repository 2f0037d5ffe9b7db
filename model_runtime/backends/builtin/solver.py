"""The built-in solver: a keyframe description -> 52 ARKit weights + 9 pose values.

The description is parsed into action units (``parse.py``) and realised through the FACS to
ARKit recipes (``facs.py``). A description with nothing the parser understands is solved from
the emotion instead, and the result says so.
"""

from __future__ import annotations

from ..base import SolvedKeyframe
from .emotion import part_face, read_emotion
from .facs import to_arkit
from .parse import DescriptionParser

_PARSER = DescriptionParser()


class BuiltinSolver:
    def __init__(self, paraphrases: bool | None = None):
        self.paraphrases = paraphrases

    def solve(self, descriptions: list[str], index: int, background: str, emotion: str) -> SolvedKeyframe:
        description = descriptions[index]
        result = _PARSER.parse(description, by_meaning=self.paraphrases is not False)
        notes = []
        state = result.state
        if result.empty and not _says_neutral(description):
            reading = read_emotion(emotion, "", background, self.paraphrases)
            state = part_face(reading.parts[min(index, len(reading.parts) - 1)], 0.6)
            notes.append(
                f"Keyframe {index + 1}: nothing in the description was understood; solved from the emotion "
                f"({reading.summary()})."
            )
        notes.extend(result.notes(f"Keyframe {index + 1}: "))
        weights, pose = to_arkit(state)
        return SolvedKeyframe(weights, pose, notes)


def _says_neutral(description: str) -> bool:
    text = description.lower()
    return any(word in text for word in ("neutral", "relaxed", "at rest", "blank", "expressionless"))
