"""Writing a track onto a rig as ordinary, editable F-curve keys.

One take per generation: a new action the tool owns (on Blender 4.4+ one action with a slot per
Key datablock), assigned to each mesh's shape keys. The artist's previous action is never
edited or deleted: it keeps a fake user so it survives saving, and switching back to it is one
click. Keys are created in bulk (``keyframe_points.add`` + ``foreach_set``), Bezier with Auto
Clamped handles (never overshooting 0..1), one F-curve per shape used, grouped by face region.
Head and eye pose go to custom properties on the primary Key (``key["headYaw"]``) so they are
keyed beside the shapes instead of silently dropped. Each semantic keyframe becomes a timeline
marker with its label and description. Everything is validated before the first write; a
failure part-way removes what was created and restores the previous assignment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from ..model_runtime.arkit import BLENDSHAPE_INDEX, POSE, region_of
from ..model_runtime.errors import KeyframeFaceError
from ..model_runtime.playback import composed_keys, keyframe_frames
from ..model_runtime.track import Track
from . import anim_compat
from .rig import RigMapping

TAKE_TAG = "keyframeface_take"
TRACK_PROPERTY = "keyframeface_track"
MARKER_PREFIX = "KF"
MARKER_NAME_LIMIT = 63

_BEZIER = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["BEZIER"].value
_AUTO_CLAMPED = bpy.types.Keyframe.bl_rna.properties["handle_left_type"].enum_items["AUTO_CLAMPED"].value


class WriteError(KeyframeFaceError):
    """Keys could not be written; nothing was changed."""


@dataclass
class WriteResult:
    actions: list[bpy.types.Action]
    fcurves: int
    keys: int
    start_frame: int
    end_frame: int
    dropped: list[str] = field(default_factory=list)
    markers: int = 0
    kept_actions: list[str] = field(default_factory=list)
    extended_scene: bool = False


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def is_take(action: bpy.types.Action | None) -> bool:
    return action is not None and bool(action.get(TAKE_TAG))


def _data_path(block_name: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(block_name)}"].value'


def _fill(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    count = len(frames)
    fcurve.keyframe_points.add(count)
    co = np.empty(count * 2, dtype=np.float32)
    co[0::2] = frames
    co[1::2] = values
    fcurve.keyframe_points.foreach_set("co", co)
    fcurve.keyframe_points.foreach_set("interpolation", np.full(count, _BEZIER, dtype=np.int32))
    fcurve.keyframe_points.foreach_set("handle_left_type", np.full(count, _AUTO_CLAMPED, dtype=np.int32))
    fcurve.keyframe_points.foreach_set("handle_right_type", np.full(count, _AUTO_CLAMPED, dtype=np.int32))
    # Classic auto handles: the curve the model runtime evaluates is exactly what Blender plays.
    fcurve.auto_smoothing = "NONE"
    fcurve.update()


def _marker_name(index: int, label: str, description: str) -> str:
    name = f"{MARKER_PREFIX}{index + 1} {label}: {description}"
    encoded = name.encode("utf-8")
    if len(encoded) <= MARKER_NAME_LIMIT:
        return name
    return encoded[: MARKER_NAME_LIMIT - 3].decode("utf-8", "ignore").rstrip() + "..."


def _is_tool_marker(marker) -> bool:
    head = marker.name.split(" ", 1)[0]
    return head.startswith(MARKER_PREFIX) and head[len(MARKER_PREFIX):].isdigit()


def write_track(scene: bpy.types.Scene, rig: RigMapping, track: Track, start_frame: int,
                take_name: str | None = None, add_markers: bool = True) -> WriteResult:
    """Write ``track`` onto ``rig`` starting at ``start_frame``; see the module docstring."""
    if not rig.meshes:
        raise WriteError("No ARKit shape keys to write to.")
    fps = scene_fps(scene)
    keys = composed_keys(track, fps)
    if not keys:
        raise WriteError("The track is neutral throughout: nothing to key.")

    plan: list[tuple[object, list[tuple[str, str, np.ndarray, np.ndarray]]]] = []
    written_shapes: set[str] = set()
    primary = rig.primary
    for mesh in rig.meshes:
        curves = []
        for name, (frames, values) in keys.items():
            if name in BLENDSHAPE_INDEX and name in mesh.shapes:
                curves.append((_data_path(mesh.shapes[name]), region_of(name), frames + start_frame, values))
                written_shapes.add(name)
            elif name in POSE and mesh is primary:
                curves.append((f'["{name}"]', "Head & Eyes", frames + start_frame, values))
        if curves:
            plan.append((mesh, curves))
    dropped = sorted(name for name in keys if name in BLENDSHAPE_INDEX and name not in written_shapes)
    if not plan:
        raise WriteError("None of the generated shapes exist on this rig.")

    end_frame = start_frame + int(max(frames.max() for frames, _ in keys.values()))
    name = take_name or f"KFF {primary.obj.name}"
    track_json = track.to_json(indent=None)
    previous = {mesh.key.name: anim_compat.current_assignment(mesh.key) for mesh, _ in plan}
    created_markers = []
    actions: list[bpy.types.Action] = []
    try:
        actions, sinks = anim_compat.create_take(name, [mesh.key for mesh, _ in plan])
        fcurve_count = key_count = 0
        for mesh, curves in plan:
            key = mesh.key
            if mesh is primary:
                for pose_name in POSE:
                    if pose_name not in key:
                        key[pose_name] = 0.0
                        ui = key.id_properties_ui(pose_name)
                        ui.update(min=-1.0, max=1.0, soft_min=-1.0, soft_max=1.0,
                                  description="Head/eye rotation from KeyframeFace (radians)")
            sink, _slot = sinks[key.name]
            for data_path, group, frames, values in curves:
                fcurve = sink.new_fcurve(data_path, group)
                _fill(fcurve, frames, values)
                fcurve_count += 1
                key_count += len(frames)
        for action in actions:
            action[TAKE_TAG] = True
            action[TRACK_PROPERTY] = track_json
            action["keyframeface_start_frame"] = int(start_frame)
            action.use_fake_user = True

        kept = []
        for mesh, _ in plan:
            old_action, _ = previous[mesh.key.name]
            if old_action is not None and not is_take(old_action) and not old_action.use_fake_user:
                # Without a user the artist's action would be deleted on save.
                old_action.use_fake_user = True
                kept.append(old_action.name)
            sink, slot = sinks[mesh.key.name]
            anim_compat.assign(mesh.key, sink.action, slot)

        if add_markers:
            frames_of_keyframes = keyframe_frames(track, fps)
            for marker in list(scene.timeline_markers):
                if _is_tool_marker(marker) and start_frame <= marker.frame <= end_frame:
                    scene.timeline_markers.remove(marker)
            for index, (keyframe, frame) in enumerate(zip(track.keyframes, frames_of_keyframes)):
                marker = scene.timeline_markers.new(_marker_name(index, keyframe.label, keyframe.description), frame=start_frame + frame)
                created_markers.append(marker)

        extended = False
        if end_frame > scene.frame_end:
            scene.frame_end = end_frame
            extended = True
    except Exception as error:
        _undo(actions, previous, created_markers, scene, rig)
        if isinstance(error, KeyframeFaceError):
            raise
        raise WriteError(f"Writing keys failed and was undone: {error}") from error

    return WriteResult(
        actions=actions,
        fcurves=fcurve_count,
        keys=key_count,
        start_frame=start_frame,
        end_frame=end_frame,
        dropped=dropped,
        markers=len(created_markers),
        kept_actions=kept,
        extended_scene=extended,
    )


def _undo(actions, previous, markers, scene, rig: RigMapping) -> None:
    for mesh in rig.meshes:
        if mesh.key.name in previous:
            action, slot = previous[mesh.key.name]
            if mesh.key.animation_data is not None:
                mesh.key.animation_data.action = action
                if slot is not None:
                    mesh.key.animation_data.action_slot = slot
    for marker in markers:
        try:
            scene.timeline_markers.remove(marker)
        except (ReferenceError, RuntimeError):
            pass
    for action in actions:
        try:
            bpy.data.actions.remove(action)
        except ReferenceError:
            pass


def track_of(action: bpy.types.Action) -> Track | None:
    """The track a take was generated from, stored on its action."""
    text = action.get(TRACK_PROPERTY) if action is not None else None
    if not text:
        return None
    return Track.from_json(text)
