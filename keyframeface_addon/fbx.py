"""FBX export that keeps shape-key animation.

Blender's FBX exporter drops shape-key animation with its default settings. What survives a
round trip (measured, and proven by a test that imports the file back): baking the scene's
animation (not all actions, not NLA strips), no simplification, a scene frame range covering
the keys, and no modifier application (shape keys are not exported from evaluated meshes).
"""

from __future__ import annotations

from contextlib import contextmanager

import addon_utils
import bpy

from ..model_runtime.errors import KeyframeFaceError
from . import anim_compat
from .rig import find_rig
from .writers.channels import shape_path

FBX_SETTINGS = {
    "bake_anim": True,
    "bake_anim_use_all_actions": False,
    "bake_anim_use_nla_strips": False,
    "bake_anim_simplify_factor": 0.0,
    "bake_anim_force_startend_keying": True,
    "use_mesh_modifiers": False,
    "add_leaf_bones": False,
    "object_types": {"ARMATURE", "MESH", "EMPTY"},
    "use_selection": True,
}


class ExportError(KeyframeFaceError):
    """The FBX could not be written."""


def ensure_fbx_exporter() -> None:
    """Blender bundles the FBX add-on but may have it disabled."""
    if addon_utils.check("io_scene_fbx")[1]:
        return
    try:
        addon_utils.enable("io_scene_fbx", default_set=True)
    except Exception as error:  # enabling reports failures in several exception types
        raise ExportError(f"Blender's FBX exporter (io_scene_fbx) is not available: {error}") from None
    if not addon_utils.check("io_scene_fbx")[1]:
        raise ExportError("Blender's FBX exporter (io_scene_fbx) could not be enabled.")


def export_objects(obj: bpy.types.Object) -> list[bpy.types.Object]:
    """The object, its parents' chain root and every descendant: the whole head rig."""
    root = obj
    while root.parent is not None:
        root = root.parent
    result, stack = [], [root]
    while stack:
        current = stack.pop()
        result.append(current)
        stack.extend(current.children)
    return result


def animated_frame_range(objects) -> tuple[int, int] | None:
    frames = []
    for obj in objects:
        key = obj.data.shape_keys if obj.type == "MESH" and obj.data.shape_keys else None
        if key is None:
            continue
        for fcurve in anim_compat.fcurves_for(key):
            if len(fcurve.keyframe_points):
                start, end = fcurve.range()
                frames.extend((start, end))
    if not frames:
        return None
    return int(min(frames)), int(max(frames) + 0.999)


def _animated_paths(key: bpy.types.Key) -> set[str]:
    """Data paths the key's active action or its unmuted NLA strips animate."""
    paths = {fc.data_path for fc in anim_compat.fcurves_for(key) if not fc.mute}
    animation = key.animation_data
    for nla_track in (animation.nla_tracks if animation else []):
        if nla_track.mute:
            continue
        for strip in nla_track.strips:
            if strip.action is not None and not strip.mute:
                slot = getattr(strip, "action_slot", None)
                paths.update(fc.data_path for fc in anim_compat.fcurve_container(strip.action, slot).fcurves)
    return paths


def unanimated_shapes(key: bpy.types.Key) -> list[tuple[str, float]]:
    """Shape keys set to a non-zero value that nothing animates: the FBX bakes them as constants."""
    animated = _animated_paths(key)
    return [(block.name, block.value) for block in key.key_blocks[1:]
            if abs(block.value) > 1e-6 and shape_path(block.name) not in animated]


def animation_problems(objects) -> list[str]:
    """Setups that would lose shape-key animation in the FBX, or bake values nobody keyed, in
    words for the artist."""
    problems = []
    rig = find_rig(objects[0]) if objects else None
    for mesh in (rig.meshes if rig else []):
        key = mesh.key
        still = unanimated_shapes(key)
        if still:
            listed = ", ".join(f"{name} {value:.2f}" for name, value in still[:4]) + (", ..." if len(still) > 4 else "")
            problems.append(f"'{mesh.obj.name}' has {len(still)} shape key(s) set but not animated ({listed}); "
                            "the FBX holds them at these values throughout. Generate a take or zero the sliders.")
        animation = key.animation_data
        if animation is None or (animation.action is None and not animation.nla_tracks):
            problems.append(f"'{mesh.obj.name}' has no shape-key animation.")
            continue
        if animation.action is None and animation.nla_tracks:
            problems.append(f"'{mesh.obj.name}' has shape-key keys only in NLA strips; the export bakes the active action. Push the strip back to an action (Tab in the NLA editor) first.")
        muted = [fc.data_path for fc in anim_compat.fcurves_for(key) if fc.mute]
        if muted:
            problems.append(f"'{mesh.obj.name}' has {len(muted)} muted F-curve(s) that will not be exported.")
    return problems


@contextmanager
def _export_state(context, objects, frame_range):
    scene = context.scene
    saved = (scene.frame_start, scene.frame_end, scene.frame_current,
             {o.name: o.select_get() for o in context.view_layer.objects}, context.view_layer.objects.active)
    try:
        for other in context.view_layer.objects:
            other.select_set(False)
        for obj in objects:
            if obj.name in context.view_layer.objects:
                obj.select_set(True)
        if frame_range:
            scene.frame_start, scene.frame_end = frame_range
        yield
    finally:
        scene.frame_start, scene.frame_end = saved[0], saved[1]
        scene.frame_set(saved[2])
        for other in context.view_layer.objects:
            other.select_set(saved[3].get(other.name, False))
        context.view_layer.objects.active = saved[4]


def export_fbx(context, filepath: str, obj: bpy.types.Object) -> tuple[list[bpy.types.Object], tuple[int, int] | None]:
    """Export ``obj``'s whole rig to ``filepath``; returns what was exported and the frames."""
    ensure_fbx_exporter()
    objects = export_objects(obj)
    frame_range = animated_frame_range(objects)
    with _export_state(context, objects, frame_range):
        result = bpy.ops.export_scene.fbx(filepath=filepath, **FBX_SETTINGS)
    if "FINISHED" not in result:
        raise ExportError(f"Blender's FBX exporter did not finish ({', '.join(result)}).")
    return objects, frame_range
