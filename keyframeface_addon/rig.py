"""Finding the ARKit shapes on a rig, whatever its naming convention.

A head is often several meshes (face, teeth, tongue, lashes), each carrying some of the 52
shapes. ``find_rig`` looks at the active object and its child meshes (recursively; an armature
or empty as the active object works too), maps every shape key to its ARKit name through
``model_runtime.arkit.to_arkit``, and reports which of the 52 the rig lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import bpy

from ..model_runtime.arkit import BLENDSHAPES, convention_name, to_arkit
from ..model_runtime.errors import InputError
from ..model_runtime.formats.mapping_json import MappingDocument


@dataclass
class MeshMapping:
    """ARKit name -> shape-key name on one mesh's Key datablock."""

    obj: bpy.types.Object
    shapes: dict[str, str]

    @property
    def key(self) -> bpy.types.Key:
        return self.obj.data.shape_keys


@dataclass
class RigMapping:
    meshes: list[MeshMapping] = field(default_factory=list)
    # Hand-made mapping entries whose shape key no longer exists: "mesh: shape (arkit)".
    stale: list[str] = field(default_factory=list)
    # The object the rig was found from (the active object): it and its parents hold the
    # pose-bone settings.
    root: bpy.types.Object | None = None

    @property
    def covered(self) -> set[str]:
        return {name for mesh in self.meshes for name in mesh.shapes}

    @property
    def missing(self) -> list[str]:
        covered = self.covered
        return [name for name in BLENDSHAPES if name not in covered]

    @property
    def primary(self) -> MeshMapping | None:
        """The mesh with the most ARKit shapes: it also carries the head/eye pose channels."""
        return max(self.meshes, key=lambda m: len(m.shapes), default=None)

    def summary(self) -> str:
        names = ", ".join(m.obj.name for m in self.meshes)
        text = f"{len(self.covered)}/52 ARKit shapes on {names}"
        if self.missing:
            shown = ", ".join(self.missing[:6]) + ("..." if len(self.missing) > 6 else "")
            text += f"; missing: {shown}"
        return text


def _candidate_meshes(obj: bpy.types.Object):
    seen = set()
    stack = [obj]
    while stack:
        current = stack.pop(0)
        if current.name in seen:
            continue
        seen.add(current.name)
        if current.type == "MESH":
            yield current
        stack.extend(current.children)


def map_mesh(obj: bpy.types.Object, stale: list[str] | None = None) -> MeshMapping | None:
    """The ARKit shapes on one mesh: its hand-made mapping when it has one (entries naming a
    deleted shape key are reported in ``stale``), else every recognisable shape-key name."""
    key = obj.data.shape_keys if obj.type == "MESH" else None
    if key is None:
        return None
    settings = getattr(obj, "keyframeface_rig", None)
    if settings is not None and len(settings.mapping):
        shapes = {}
        for item in settings.mapping:
            if not item.shape:
                continue
            if item.shape in key.key_blocks:
                shapes[item.arkit] = item.shape
            elif stale is not None:
                stale.append(f"{obj.name}: {item.shape} ({item.arkit})")
        return MeshMapping(obj, shapes) if shapes else None
    shapes: dict[str, str] = {}
    reference = key.reference_key.name if key.reference_key else None
    for block in key.key_blocks:
        if block.name == reference:
            continue
        name = to_arkit(block.name)
        if name in BLENDSHAPES and name not in shapes:
            shapes[name] = block.name
    return MeshMapping(obj, shapes) if shapes else None


def find_rig(obj: bpy.types.Object | None) -> RigMapping:
    """The ARKit-bearing meshes of ``obj`` and its children."""
    mapping = RigMapping(root=obj)
    if obj is None:
        return mapping
    for mesh in _candidate_meshes(obj):
        found = map_mesh(mesh, mapping.stale)
        if found:
            mapping.meshes.append(found)
    return mapping


def rig_problem(obj: bpy.types.Object | None) -> str | None:
    """Why generation cannot target ``obj``, in words for the user; None when it can."""
    if obj is None:
        return "Select the head: no active object."
    mapping = find_rig(obj)
    if not mapping.meshes:
        meshes = list(_candidate_meshes(obj))
        if not meshes:
            return f"'{obj.name}' has no meshes to animate. Select the head mesh (or its parent)."
        if not any(m.data.shape_keys for m in meshes):
            return f"'{obj.name}' has no shape keys. Add ARKit shape keys, or use Add Demo Head."
        return f"No ARKit shape keys found on '{obj.name}' or its children (52 names like jawOpen, eyeBlinkLeft)."
    if mapping.stale:
        return f"The mapping names deleted shape keys: {', '.join(mapping.stale[:3])}. Fix it in the Rig panel."
    for mesh in mapping.meshes:
        key = mesh.key
        if key.library is not None or mesh.obj.data.library is not None:
            return f"'{mesh.obj.name}' is linked from another file and cannot be keyed. Make it local or add a library override."
        if getattr(key, "override_library", None) is not None and not getattr(key, "is_editable", True):
            return f"'{mesh.obj.name}' shape keys are not editable (library override)."
    return None


def detect_mapping(obj: bpy.types.Object, preset: str = "AUTO") -> dict[str, str]:
    """ARKit name -> shape key on one mesh, by naming preset (``AUTO`` recognises any)."""
    key = obj.data.shape_keys if obj.type == "MESH" else None
    if key is None:
        return {}
    names = [b.name for b in key.key_blocks if b != key.reference_key]
    if preset == "AUTO":
        found = {}
        for name in names:
            arkit = to_arkit(name)
            if arkit in BLENDSHAPES and arkit not in found:
                found[arkit] = name
        return found
    by_lower = {}
    for name in names:
        by_lower.setdefault(name.lower(), name)
        by_lower.setdefault(name.rsplit(".", 1)[-1].lower(), name)
    found = {}
    for arkit in BLENDSHAPES:
        match = by_lower.get(convention_name(arkit, preset.lower()).lower())
        if match:
            found[arkit] = match
    return found


def fill_mapping(obj: bpy.types.Object, preset: str = "AUTO") -> int:
    """Write the detected mapping into the mesh's table (all 52 rows; unmatched ones empty)."""
    detected = detect_mapping(obj, preset)
    _write_mapping_table(obj, detected)
    return len(detected)


def _write_mapping_table(obj: bpy.types.Object, shapes: dict[str, str]) -> None:
    """The mesh's mapping table: all 52 ARKit rows, the shape key each plays (empty: none)."""
    table = obj.keyframeface_rig.mapping
    table.clear()
    for arkit in BLENDSHAPES:
        item = table.add()
        item.arkit = arkit
        item.shape = shapes.get(arkit, "")


def mapping_document(rig_root: bpy.types.Object) -> MappingDocument:
    """The rig's mapping for a team: per mesh, ARKit name -> shape key, the pose bones and the
    head object."""
    meshes = {}
    for mesh in _candidate_meshes(rig_root):
        found = map_mesh(mesh)
        if found:
            meshes[mesh.name] = found.shapes
    settings = rig_root.keyframeface_rig
    pose = {"armature": settings.armature.name if settings.armature else "", "head": settings.head_bone,
            "left_eye": settings.left_eye_bone, "right_eye": settings.right_eye_bone,
            "head_object": settings.head_object.name if settings.head_object else ""}
    return MappingDocument(meshes, pose)


def apply_mapping_document(rig_root: bpy.types.Object, mapping: MappingDocument) -> list[str]:
    """Load a checked mapping onto the rig's meshes (by mesh name; a single-mesh rig takes a
    single-mesh mapping whatever its name). Returns the meshes mapped; raises ``InputError``,
    changing nothing, when none of the mapping's meshes is in the rig."""
    meshes = [m for m in _candidate_meshes(rig_root) if m.data.shape_keys]
    entries = mapping.meshes
    matched = [(mesh, entries[mesh.name]) for mesh in meshes if mesh.name in entries]
    if not matched and len(meshes) == 1 and len(entries) == 1:
        matched = [(meshes[0], next(iter(entries.values())))]
    if not matched:
        raise InputError(f"none of the mapping's meshes ({', '.join(entries)}) are in this rig")
    for mesh, shapes in matched:
        _write_mapping_table(mesh, shapes)
    settings = rig_root.keyframeface_rig
    armature = bpy.data.objects.get(mapping.pose["armature"])
    if armature is not None and armature.type == "ARMATURE":
        settings.armature = armature
    settings.head_bone = mapping.pose["head"]
    settings.left_eye_bone = mapping.pose["left_eye"]
    settings.right_eye_bone = mapping.pose["right_eye"]
    head_object = bpy.data.objects.get(mapping.pose["head_object"]) if mapping.pose["head_object"] else None
    settings.head_object = head_object if head_object is not None and head_object.type != "ARMATURE" else None
    return [mesh.name for mesh, _ in matched]


_BONE_PATTERNS = {
    "head_bone": re.compile(r"^(?!.*(eff|end|top|tip|jaw|eye)).*head", re.I),
    "left_eye_bone": re.compile(r"(left.*eye|eye.*left|eye[._ ]?l$|^l[._ ]?eye)", re.I),
    "right_eye_bone": re.compile(r"(right.*eye|eye.*right|eye[._ ]?r$|^r[._ ]?eye)", re.I),
}


def rig_armature(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The armature a head belongs to: itself, a parent, or an armature modifier's target."""
    current = obj
    while current is not None:
        if current.type == "ARMATURE":
            return current
        for modifier in getattr(current, "modifiers", []):
            if modifier.type == "ARMATURE" and modifier.object is not None:
                return modifier.object
        current = current.parent
    return None


def detect_pose_bones(obj: bpy.types.Object) -> dict[str, str]:
    """Head and eye bones by name on the rig's armature (Head_Joint, LeftEye_Joint, eye.L...)."""
    armature = rig_armature(obj)
    if armature is None:
        return {}
    found = {}
    for setting, pattern in _BONE_PATTERNS.items():
        for bone in armature.data.bones:
            if pattern.search(bone.name):
                found[setting] = bone.name
                break
    return found


def pose_settings(rig: RigMapping):
    """The rig settings that say where the head and eye pose goes (an armature, a head object
    or both): on the root object or one of its parents; None when neither is set."""
    current = rig.root
    while current is not None:
        settings = getattr(current, "keyframeface_rig", None)
        if settings is not None and (settings.armature is not None or settings.head_object is not None):
            return settings
        current = current.parent
    return None


def has_head_bone(settings) -> bool:
    return settings.armature is not None and bool(settings.head_bone)


def turned_head_object(settings) -> bpy.types.Object | None:
    """The object the head pose turns: the settings' head object, unless a head bone is mapped
    (bones win)."""
    return None if has_head_bone(settings) else settings.head_object


def pose_targets(rig: RigMapping) -> list[bpy.types.Object]:
    """The objects whose animation carries the rig's head and eye pose (each on its Head & Eyes
    NLA track): the armature when one is set, and the head object when no head bone is mapped."""
    settings = pose_settings(rig)
    if settings is None:
        return []
    return [target for target in (settings.armature, turned_head_object(settings)) if target is not None]
