"""Rig mapping JSON: which shape key plays each ARKit shape on each mesh of a head, and which
armature bones (or, for a head without a head bone, which object) carry head and eye pose. A
team shares it so every artist's copy of a rig is driven the same way.

``{"format": "keyframeface.mapping", "version": 1,
   "meshes": {"CC_Base_Body": {"jawOpen": "A25_Jaw_Open", ...}, ...},
   "pose": {"armature": "Armature", "head": "Head", "left_eye": "L_Eye", "right_eye": "R_Eye",
            "head_object": ""}}``

ARKit names are camelCase; an empty shape-key name means "not on this mesh". Every pose field
is optional (files written before ``head_object`` existed read as they did): absent is empty. Reading checks the
whole document before anything uses it, and a ``FormatError`` says where the problem is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..arkit import BLENDSHAPE_INDEX
from ..errors import FormatError
from ..files import atomic_write, loads_json, read_text

FORMAT = "keyframeface.mapping"
VERSION = 1
POSE_FIELDS = ("armature", "head", "left_eye", "right_eye", "head_object")
MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass
class MappingDocument:
    """Per mesh name, ARKit name -> shape-key name; ``pose``: the armature and its head and eye
    bones, and the head object turned when there is no head bone (empty strings when unset)."""

    meshes: dict[str, dict[str, str]]
    pose: dict[str, str] = field(default_factory=lambda: dict.fromkeys(POSE_FIELDS, ""))

    def to_dict(self) -> dict:
        meshes = {mesh: {name: shapes[name] for name in sorted(shapes, key=BLENDSHAPE_INDEX.__getitem__)}
                  for mesh, shapes in self.meshes.items()}
        return {"format": FORMAT, "version": VERSION, "meshes": meshes,
                "pose": {name: self.pose.get(name, "") for name in POSE_FIELDS}}


def mapping_from_dict(document) -> MappingDocument:
    """A checked ``MappingDocument`` from a parsed JSON document, or ``FormatError`` naming the problem."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise FormatError(f"not a KeyframeFace mapping (expected \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise FormatError(f"unsupported mapping version {document.get('version')!r} (this version reads {VERSION})")
    unknown_fields = sorted(set(document) - {"format", "version", "meshes", "pose"})
    if unknown_fields:
        raise FormatError(f"unknown field(s): {', '.join(unknown_fields)}")
    entries = document.get("meshes")
    if not isinstance(entries, dict) or not entries:
        raise FormatError("\"meshes\" must be an object with at least one mesh: {\"MeshName\": {\"jawOpen\": \"ShapeKey\"}}")
    meshes: dict[str, dict[str, str]] = {}
    for mesh, shapes in entries.items():
        if not isinstance(shapes, dict):
            raise FormatError(f"meshes.{mesh} must be an object of ARKit name -> shape-key name")
        unknown = [name for name in shapes if name not in BLENDSHAPE_INDEX]
        if unknown:
            hint = ", ".join(unknown[:4]) + (f" and {len(unknown) - 4} more" if len(unknown) > 4 else "")
            raise FormatError(f"meshes.{mesh}: unknown ARKit name(s) {hint} (names are camelCase, e.g. jawOpen)")
        not_text = [name for name, shape in shapes.items() if not isinstance(shape, str)]
        if not_text:
            raise FormatError(f"meshes.{mesh}.{not_text[0]}: the shape-key name must be text")
        meshes[mesh] = dict(shapes)
    pose = document.get("pose", {})
    if pose is None:
        pose = {}
    if not isinstance(pose, dict):
        raise FormatError(f"\"pose\" must be an object with the fields {', '.join(POSE_FIELDS)}")
    unknown_pose = sorted(set(pose) - set(POSE_FIELDS))
    if unknown_pose:
        raise FormatError(f"pose: unknown field(s) {', '.join(unknown_pose)} (known: {', '.join(POSE_FIELDS)})")
    for name, value in pose.items():
        if not isinstance(value, str):
            named = "object" if name == "head_object" else "bone or armature"
            raise FormatError(f"pose.{name}: the {named} name must be text")
    return MappingDocument(meshes, {name: pose.get(name, "") for name in POSE_FIELDS})


def read_mapping_json(path) -> MappingDocument:
    """A mapping file, checked whole; ``FormatError`` says what is wrong and where."""
    path = Path(path)
    text = read_text(path, path.name, MAX_FILE_BYTES)
    if not text.strip():
        raise FormatError(f"{path.name} is empty")
    return mapping_from_dict(loads_json(text, path.name))


def write_mapping_json(path, mapping: MappingDocument) -> None:
    """Write the mapping whole (a temporary file renamed into place)."""
    atomic_write(path, json.dumps(mapping.to_dict(), indent=1) + "\n")
