"""Facial states in FACS terms and their conversion to ARKit weights and pose.

A ``FaceState`` is what the built-in planner composes from emotions and what the built-in
solver reads out of a description: action-unit intensities per side, a gaze direction and a
head pose. ``to_arkit`` turns it into the 52 blendshape weights and 9 pose values through the
recipes in ``data/facs.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...arkit import BLENDSHAPES, POSE
from ..._data import load_json

_FACS = load_json("facs.json")
ACTION_UNITS: dict = _FACS["action_units"]
GAZE: dict = {k: v for k, v in _FACS["gaze"].items() if not k.startswith("_")}
HEAD: dict = {k: v for k, v in _FACS["head"].items() if not k.startswith("_")}
DEGREES: dict = _FACS["degrees"]

SIDES = ("Left", "Right")
ONE_SIDE_SUFFIX = ":one"


def au_regions(au: str) -> tuple[str, ...]:
    return tuple(ACTION_UNITS[au]["regions"])


def is_sided(au: str) -> bool:
    return bool(ACTION_UNITS[au]["sided"])


@dataclass
class FaceState:
    """Action units per side (``{"AU12": {"Left": 0.6, "Right": 0.6}}``), gaze and head.

    Unsided action units store the same value under both sides. ``gaze`` is (yaw, pitch) in
    units of a full look (yaw > 0 towards the face's own left, pitch > 0 up); ``cross`` how far
    both eyes turn in toward the nose (cross-eyed, 0..1); ``head`` holds pose angles in radians
    (headYaw, headPitch, headRoll).
    """

    aus: dict[str, dict[str, float]] = field(default_factory=dict)
    gaze: tuple[float, float] = (0.0, 0.0)
    head: dict[str, float] = field(default_factory=dict)
    cross: float = 0.0

    def set(self, au: str, value: float, side: str | None = None) -> None:
        if au not in ACTION_UNITS:
            raise KeyError(au)
        value = min(max(float(value), 0.0), 1.0)
        sides = SIDES if (side is None or not is_sided(au)) else (side,)
        entry = self.aus.setdefault(au, {"Left": 0.0, "Right": 0.0})
        for s in sides:
            entry[s] = value
        if ACTION_UNITS[au].get("exclusive_sides") and side is not None:
            entry["Left" if side == "Right" else "Right"] = 0.0

    def raise_to(self, au: str, value: float, side: str | None = None) -> None:
        """Set an AU to at least ``value`` (several sources of one AU keep the strongest)."""
        current = self.get(au, side)
        if value > current:
            self.set(au, value, side)

    def get(self, au: str, side: str | None = None) -> float:
        entry = self.aus.get(au)
        if not entry:
            return 0.0
        if side is None:
            return max(entry.values())
        return entry[side]

    def clear_aus(self, aus) -> None:
        for au in aus:
            self.aus.pop(au, None)

    def active(self, threshold: float = 0.0):
        """(au, left, right) for every AU above ``threshold`` on either side."""
        for au, entry in self.aus.items():
            if max(entry.values()) > threshold:
                yield au, entry["Left"], entry["Right"]

    def copy(self) -> "FaceState":
        return FaceState(
            aus={au: dict(entry) for au, entry in self.aus.items()},
            gaze=tuple(self.gaze),
            head=dict(self.head),
            cross=self.cross,
        )


def to_arkit(state: FaceState) -> tuple[dict[str, float], dict[str, float]]:
    """The 52 ARKit weights and 9 pose values that realise ``state``.

    Several action units can drive one blendshape (AU6 and AU7 both narrow the eyes); their
    contributions combine as independent probabilities, ``1 - prod(1 - w)``, so they add up
    for small values and never exceed 1.
    """
    remaining = {name: 1.0 for name in BLENDSHAPES}

    def contribute(shape: str, amount: float) -> None:
        amount = min(max(amount, 0.0), 1.0)
        if amount > 0.0:
            remaining[shape] *= 1.0 - amount

    for au, entry in state.aus.items():
        recipe = ACTION_UNITS[au]["arkit"]
        for template, factor in recipe.items():
            if "{S}" in template:
                for side in SIDES:
                    contribute(template.replace("{S}", side), factor * entry[side])
            else:
                contribute(template, factor * max(entry.values()))

    yaw, pitch = state.gaze
    pose = {name: 0.0 for name in POSE}
    for direction, amount in (("left", yaw), ("right", -yaw), ("up", pitch), ("down", -pitch)):
        if amount <= 0:
            continue
        spec = GAZE[direction]
        for template, factor in spec["arkit"].items():
            shapes = [template.replace("{S}", s) for s in SIDES] if "{S}" in template else [template]
            for shape in shapes:
                contribute(shape, factor * amount)
        for axis, radians in spec["pose"].items():
            for eye in ("leftEye", "rightEye"):
                pose[eye + axis.capitalize()] += radians * amount
    if state.cross > 0:
        spec = GAZE["cross"]
        for template, factor in spec["arkit"].items():
            for side in SIDES:
                contribute(template.replace("{S}", side), factor * state.cross)
        # Toward the nose: the face's own left eye turns right (yaw < 0), the right eye left.
        pose["leftEyeYaw"] -= spec["pose"]["yaw"] * state.cross
        pose["rightEyeYaw"] += spec["pose"]["yaw"] * state.cross
    for name, radians in state.head.items():
        pose[name] += radians

    weights = {name: round(1.0 - remaining[name], 6) for name in BLENDSHAPES}
    pose = {name: round(min(max(value, -1.0), 1.0), 6) for name, value in pose.items()}
    return weights, pose


def quantize_degree(value: float) -> tuple[str, float] | None:
    """The degree word the planner writes for an intensity, and the level it stands for.

    Returns None below the faintest level (the action is left out of the description).
    """
    levels = DEGREES["write"]
    if value < levels[0][1] / 2:
        return None
    best = min(levels, key=lambda level: abs(level[1] - value))
    return best[0], best[1]
