"""Finding the ARKit shapes on a rig, whatever its naming convention.

A head is often several meshes (face, teeth, tongue, lashes), each carrying some of the 52
shapes. ``find_rig`` looks at the active object and its child meshes (recursively; an armature
or empty as the active object works too), maps every shape key to its ARKit name through
``model_runtime.arkit.to_arkit``, and reports which of the 52 the rig lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy

from ..model_runtime.arkit import BLENDSHAPES, to_arkit


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


def map_mesh(obj: bpy.types.Object) -> MeshMapping | None:
    key = obj.data.shape_keys if obj.type == "MESH" else None
    if key is None:
        return None
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
    mapping = RigMapping()
    if obj is None:
        return mapping
    for mesh in _candidate_meshes(obj):
        found = map_mesh(mesh)
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
    for mesh in mapping.meshes:
        key = mesh.key
        if key.library is not None or mesh.obj.data.library is not None:
            return f"'{mesh.obj.name}' is linked from another file and cannot be keyed. Make it local or add a library override."
        if getattr(key, "override_library", None) is not None and not getattr(key, "is_editable", True):
            return f"'{mesh.obj.name}' shape keys are not editable (library override)."
    return None
