"""Writing a facial state as a short description in the paper's style.

"The gaze lowers, the inner brows lift slightly, and the lips press together." Each action
unit is written with its phrase from ``data/facs.json`` and a degree word for its intensity;
the built-in solver reads every phrase back to the same action unit and level.
"""

from __future__ import annotations

from .facs import ACTION_UNITS, GAZE, HEAD, FaceState, quantize_degree

# Reading order of a face, top to bottom, then head.
_ORDER = (
    "AU1", "AU2", "AU4", "AU5", "AU7", "AU41", "AU43", "AU6", "AU34", "AU9", "AU10", "AU12",
    "AU14", "AU15", "AU20", "AU16", "AU17", "AU18", "AU22", "AU23", "AU24", "AU28", "AU25",
    "AU26", "AU27", "AD81", "AU29", "AU30", "AU19",
)
assert set(_ORDER) == set(ACTION_UNITS), "every action unit needs a place in the reading order"

NEUTRAL_DESCRIPTION = "The face is relaxed and neutral."


def _with_degree(phrase: str, word: str) -> str:
    return f"{phrase} {word}" if word else phrase


def _au_phrases(state: FaceState) -> list[str]:
    phrases = []
    brows_together = _brows_raise_together(state)
    for au in _ORDER:
        if au not in state.aus:
            continue
        if brows_together and au in ("AU1", "AU2"):
            if au == "AU1":
                word, _ = quantize_degree(state.get("AU1"))
                phrases.append(_with_degree("the brows lift", word))
            continue
        spec = ACTION_UNITS[au]
        left, right = state.aus[au]["Left"], state.aus[au]["Right"]
        q_left, q_right = quantize_degree(left), quantize_degree(right)
        if not spec["sided"]:
            level = quantize_degree(max(left, right))
            if level:
                phrases.append(_with_degree(spec["phrase"], level[0]))
        elif q_left and q_right and q_left == q_right and not spec.get("exclusive_sides"):
            phrases.append(_with_degree(spec["phrase"], q_left[0]))
        else:
            for side, level in (("left", q_left), ("right", q_right)):
                if level:
                    phrases.append(_with_degree(spec["phrase_one_side"].format(side=side), level[0]))
    return phrases


def _brows_raise_together(state: FaceState) -> bool:
    """AU1 and AU2 at the same level on both sides read as 'the brows lift'."""
    if "AU1" not in state.aus or "AU2" not in state.aus:
        return False
    inner = quantize_degree(state.get("AU1"))
    outer_left = quantize_degree(state.get("AU2", "Left"))
    outer_right = quantize_degree(state.get("AU2", "Right"))
    return inner is not None and inner == outer_left == outer_right


def _gaze_phrases(state: FaceState) -> list[str]:
    yaw, pitch = state.gaze
    phrases = []
    for direction, amount in (("down", -pitch), ("up", pitch), ("left", yaw), ("right", -yaw)):
        level = quantize_degree(amount) if amount > 0 else None
        if level:
            phrases.append(_with_degree(GAZE[direction]["phrase"], level[0]))
    return phrases


def _head_phrases(state: FaceState) -> list[str]:
    phrases = []
    for direction, spec in HEAD.items():
        (axis, unit), = spec["pose"].items()
        amount = state.head.get(axis, 0.0) / unit
        level = quantize_degree(amount) if amount > 0 else None
        if level:
            phrases.append(_with_degree(spec["phrase"], level[0]))
    return phrases


def describe(state: FaceState) -> str:
    """A one-sentence description of ``state``."""
    phrases = _gaze_phrases(state) + _au_phrases(state) + _head_phrases(state)
    if not phrases:
        return NEUTRAL_DESCRIPTION
    if len(phrases) == 1:
        sentence = phrases[0]
    elif len(phrases) == 2:
        sentence = f"{phrases[0]}, and {phrases[1]}"
    else:
        sentence = ", ".join(phrases[:-1]) + f", and {phrases[-1]}"
    return sentence[0].upper() + sentence[1:] + "."
