"""The ARKit face schema: 52 blendshapes, 9 pose parameters, and name normalisation.

Everything here is read from ``data/arkit.json`` once. Canonical names are Apple's camelCase
(``jawOpen``); Left/Right are the face's own sides. ``to_arkit`` maps the names rigs use in the
wild (PascalCase, Face Cap ``_L/_R``, snake_case, Reallusion CC3 ``A25_Jaw_Open``, and
prefixed names such as ``Face.jawOpen``) onto the canonical ones.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ._data import load_json

_SCHEMA = load_json("arkit.json")

BLENDSHAPES: tuple[str, ...] = tuple(_SCHEMA["blendshapes"])
POSE: tuple[str, ...] = tuple(_SCHEMA["pose"])
PARAMETERS: tuple[str, ...] = BLENDSHAPES + POSE
LIVE_LINK_FACE_COLUMNS: tuple[str, ...] = tuple(_SCHEMA["live_link_face_columns"])
REGIONS: tuple[tuple[str, str], ...] = tuple((name, prefix) for name, prefix in _SCHEMA["regions"])
CC3_ORDER: tuple[str, ...] = tuple(_SCHEMA["cc3_order"])

BLENDSHAPE_INDEX = {name: i for i, name in enumerate(BLENDSHAPES)}
POSE_INDEX = {name: i for i, name in enumerate(POSE)}

BLENDSHAPE_RANGE = (0.0, 1.0)
POSE_RANGE = (-1.0, 1.0)

_CC3_NUMBER = re.compile(r"^A\d{2}_")
_SIDE_SUFFIX = re.compile(r"[_.\- ]([LlRr])$")
_NAMESPACE_SEPARATORS = re.compile(r"[.:|/]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def pascal(name: str) -> str:
    """``jawOpen`` -> ``JawOpen`` (Live Link Face, Unreal, KeyframeFace JSON)."""
    return name[:1].upper() + name[1:]


def camel(name: str) -> str:
    """``JawOpen`` -> ``jawOpen``."""
    return name[:1].lower() + name[1:]


def region_of(name: str) -> str:
    """The face region ("Brows", "Eyes", "Mouth", ...) a canonical blendshape belongs to."""
    for region, prefix in REGIONS:
        if name.startswith(prefix):
            return region
    raise KeyError(name)


def mirror(name: str) -> str:
    """The same shape on the other side of the face (``mouthSmileLeft`` <-> ``mouthSmileRight``).

    Shapes that name a direction rather than a side (``jawLeft``, ``mouthLeft``) mirror too:
    a mirrored performance moves the jaw the other way.
    """
    if name.endswith("Left"):
        return name[: -len("Left")] + "Right"
    if name.endswith("Right"):
        return name[: -len("Right")] + "Left"
    return name


def _flat(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


_LOOKUP = {_flat(name): name for name in PARAMETERS}
# Longest first, so that a prefixed name matches its whole shape name and not a shorter suffix.
_BY_LENGTH = sorted(_LOOKUP, key=len, reverse=True)


def _normalise_side(name: str) -> str:
    match = _SIDE_SUFFIX.search(name)
    if not match:
        return name
    side = "Left" if match.group(1) in "Ll" else "Right"
    return name[: match.start()] + side


@lru_cache(maxsize=4096)
def to_arkit(name: str) -> str | None:
    """The canonical ARKit parameter a rig's shape-key (or CSV column) name stands for, or None.

    Tries, in order: the whole name; the part after the last namespace separator
    (``Face.jawOpen``, ``blendShape1.jawOpen``, ``head_geo:jawOpen``); and, for names glued to a
    mesh prefix with an underscore (``CC_Base_Body_jawOpen``), the longest ARKit name the
    name ends with at a word boundary.
    """
    if not name:
        return None
    candidates = [name]
    tail = _NAMESPACE_SEPARATORS.split(name)[-1]
    if tail and tail != name and not tail.isdigit():
        candidates.append(tail)
    for candidate in candidates:
        cleaned = _normalise_side(_CC3_NUMBER.sub("", candidate))
        found = _LOOKUP.get(_flat(cleaned))
        if found:
            return found
    cleaned = _normalise_side(_CC3_NUMBER.sub("", name))
    flat = _flat(cleaned)
    for known in _BY_LENGTH:
        if flat.endswith(known) and len(flat) > len(known):
            # Only accept the suffix when the original name has a separator right before it,
            # so "mouthSmileLeft" never matches inside an unrelated longer word.
            head = cleaned[: len(cleaned) - _suffix_length(cleaned, known)]
            if head and head[-1] in "_-. ":
                return _LOOKUP[known]
    return None


def _suffix_length(original: str, flat_suffix: str) -> int:
    """How many characters of ``original`` spell ``flat_suffix`` once separators are dropped."""
    count = 0
    matched = 0
    for char in reversed(original):
        count += 1
        if char.isalnum():
            matched += 1
            if matched == len(flat_suffix):
                return count
    return count


def is_blendshape(name: str) -> bool:
    return name in BLENDSHAPE_INDEX


def is_pose(name: str) -> bool:
    return name in POSE_INDEX


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _face_cap(name: str) -> str:
    for side, suffix in (("Left", "_L"), ("Right", "_R")):
        # Directions (jawLeft, mouthRight) keep their names in Face Cap.
        if name.endswith(side) and name not in ("jawLeft", "jawRight", "mouthLeft", "mouthRight"):
            return name[: -len(side)] + suffix
    return name


def _cc3(name: str) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", pascal(name)).split()
    return f"A{CC3_ORDER.index(name) + 1:02d}_" + "_".join(words)


# Shape-key naming conventions found on ARKit rigs, as functions of the canonical name.
CONVENTIONS = {
    "camel": ("camelCase (Apple, Ready Player Me)", lambda name: name),
    "pascal": ("PascalCase (Live Link Face, Unreal, CC4)", pascal),
    "facecap": ("Face Cap _L/_R", _face_cap),
    "snake": ("snake_case", _snake),
    "cc3": ("Reallusion CC3 (A01_...)", _cc3),
}


def convention_name(name: str, convention: str) -> str:
    """What a rig using ``convention`` calls the canonical ARKit shape ``name``."""
    return CONVENTIONS[convention][1](name)


def detect_convention(names) -> str | None:
    """The convention the most of ``names`` follow exactly (ignoring case), or None."""
    names = list(names)
    for fold in (str, str.lower):  # exact case first: camelCase and PascalCase differ only there
        present = {fold(n) for n in names} | {fold(re.split(r"[.:|/]", n)[-1]) for n in names}
        scores = {c: len({fold(convention_name(b, c)) for b in BLENDSHAPES} & present) for c in CONVENTIONS}
        best = max(scores, key=scores.get)
        if scores[best]:
            return best
    return None
