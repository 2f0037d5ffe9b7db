"""Writing a track onto a rig as ordinary, editable F-curve keys.

One take per generation: a new action the tool owns (on Blender 4.4+ one action with a slot per
Key datablock), assigned to each mesh's shape keys. It holds the expression keyframes with the
blinks; the lip-sync layer goes into its own action on an NLA track named
``KeyframeFace Lip Sync`` below it, so the artist can mute or replace the lip sync without
touching the expression. Layers add up: Blender sums the lip-sync track and the take (blend
mode Add), then clamps to the shape's range, exactly how ``model_runtime.playback`` combines
them. Adding needs a zero to add onto, and a shape key's RNA default is 1.0, so a bottom track
``KeyframeFace Rest`` holds the written channels at 0.

The artist's previous action is never edited or deleted: it keeps a fake user so it survives
saving. Keys are created in bulk (``keyframe_points.add`` + ``foreach_set``), Bezier with Auto
Clamped handles (never overshooting the keys), one F-curve per shape used, grouped by face
region. Head and eye pose go to custom properties on the primary Key (``key["headYaw"]``) so
they are keyed beside the shapes instead of silently dropped. Each semantic keyframe becomes a
timeline marker with its label and description. Everything is validated before the first
write; a failure part-way removes what was created and restores the previous state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import bpy
import numpy as np

from ..model_runtime.arkit import BLENDSHAPE_INDEX, POSE, region_of
from ..model_runtime.errors import KeyframeFaceError
from ..model_runtime.fitting import FittedCurve
from ..model_runtime.playback import composed_keys, keyframe_frames, layer_names
from ..model_runtime.track import Track
from . import anim_compat
from .rig import RigMapping

TAKE_TAG = "keyframeface_take"
# All actions of one take (main, rest, layers) share a take id; the role says which is which.
TAKE_ID = "keyframeface_take_id"
ROLE = "keyframeface_role"
MAIN_ROLE = "take"
TRACK_PROPERTY = "keyframeface_track"
LAYER_ACTION_PROPERTY = "keyframeface_layer_actions"
LAYER_TRACK_NAMES = {"lipsync": "KeyframeFace Lip Sync"}
BASE_TRACK_NAME = "KeyframeFace Rest"
MARKER_PREFIX = "KF"
LINE_MARKER = "L"
MARKER_NAME_LIMIT = 63

_BEZIER = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["BEZIER"].value
_HANDLE_TYPES = bpy.types.Keyframe.bl_rna.properties["handle_left_type"].enum_items
_AUTO_CLAMPED = _HANDLE_TYPES["AUTO_CLAMPED"].value

# (data path, group, frames, values, fitted handles or None for Auto Clamped)
Curves = list[tuple[str, str, np.ndarray, np.ndarray, FittedCurve | None]]


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
    layer_actions: list[bpy.types.Action] = field(default_factory=list)


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def is_take(action: bpy.types.Action | None) -> bool:
    return action is not None and bool(action.get(TAKE_TAG))


def _data_path(block_name: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(block_name)}"].value'


def _pairs(x, y) -> np.ndarray:
    pairs = np.empty(len(x) * 2, dtype=np.float32)
    pairs[0::2] = x
    pairs[1::2] = y
    return pairs


def fill_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray,
              handles: FittedCurve | None = None) -> None:
    """Append Bezier keys in bulk: Auto Clamped, or with the handles of a ``FittedCurve``
    keyed at ``frames`` (ALIGNED or FREE per key, as fitted)."""
    count = len(frames)
    points = fcurve.keyframe_points
    points.add(count)
    points.foreach_set("co", _pairs(frames, values))
    points.foreach_set("interpolation", np.full(count, _BEZIER, dtype=np.int32))
    if handles is None:
        kinds = np.full(count, _AUTO_CLAMPED, dtype=np.int32)
    else:
        kinds = np.where(handles.aligned, _HANDLE_TYPES["ALIGNED"].value, _HANDLE_TYPES["FREE"].value).astype(np.int32)
    # Types first: Blender recomputes handles of the types it owns, not fitted ones.
    points.foreach_set("handle_left_type", kinds)
    points.foreach_set("handle_right_type", kinds)
    if handles is not None:
        points.foreach_set("handle_left", _pairs(handles.left_x, handles.left_y))
        points.foreach_set("handle_right", _pairs(handles.right_x, handles.right_y))
    # Classic auto handles: the curve the model runtime evaluates is exactly what Blender plays.
    fcurve.auto_smoothing = "NONE"
    fcurve.update()


def _marker_name(index: int, label: str, description: str, prefix: str = MARKER_PREFIX, speaker: str = "") -> str:
    name = f"{prefix}{index + 1} {label or speaker}: {description}" if (label or speaker) else f"{prefix}{index + 1} {description}"
    encoded = name.encode("utf-8")
    if len(encoded) <= MARKER_NAME_LIMIT:
        return name
    return encoded[: MARKER_NAME_LIMIT - 3].decode("utf-8", "ignore").rstrip() + "..."


def _is_tool_marker(marker) -> bool:
    head = marker.name.split(" ", 1)[0]
    number = head[len(MARKER_PREFIX):].removeprefix(LINE_MARKER)
    return head.startswith(MARKER_PREFIX) and number.isdigit()


def track_markers(track: Track, fps: float) -> list[tuple[int, str]]:
    """``(frame, name)`` markers for a track: one per line for a dialogue scene (``KFL3 ANNA:
    Get out.``), else one per keyframe (``KF2 apex: brows pull down``)."""
    lines = track.analysis.get("lines")
    if lines:
        return [(round(line["start"] * fps), _marker_name(index, "", line["script"], prefix=MARKER_PREFIX + LINE_MARKER,
                                                         speaker=line.get("speaker", "")))
                for index, line in enumerate(lines)]
    return [(frame, _marker_name(index, keyframe.label, keyframe.description))
            for index, (keyframe, frame) in enumerate(zip(track.keyframes, keyframe_frames(track, fps)))]


def key_arrays(entry) -> tuple[np.ndarray, np.ndarray, FittedCurve | None]:
    """Frames, values and fitted handles of a channel's keys: ``(frames, values)`` (Auto
    Clamped) or a ``FittedCurve``."""
    if isinstance(entry, FittedCurve):
        return entry.x, entry.y, entry
    frames, values = entry
    return frames, values, None


def _route(rig: RigMapping, keys, start_frame: int, with_pose: bool):
    """Assign keys (``{parameter: (frames, values) or FittedCurve}``) to meshes:
    ``[(mesh, curves)]`` and the shapes written."""
    routed = []
    written: set[str] = set()
    primary = rig.primary
    for mesh in rig.meshes:
        curves: Curves = []
        for name, entry in keys.items():
            frames, values, handles = key_arrays(entry)
            if handles is not None:
                handles = handles.shifted(start_frame)
            if name in BLENDSHAPE_INDEX and name in mesh.shapes:
                curves.append((_data_path(mesh.shapes[name]), region_of(name), frames + start_frame, values, handles))
                written.add(name)
            elif name in POSE and with_pose and mesh is primary:
                curves.append((f'["{name}"]', "Head & Eyes", frames + start_frame, values, handles))
        if curves:
            routed.append((mesh, curves))
    return routed, written


def _write_action(name: str, routed, created) -> tuple[list[bpy.types.Action], dict, int, int]:
    actions, sinks = anim_compat.create_take(name, [mesh.key for mesh, _ in routed])
    created["actions"].extend(actions)
    fcurves = keys = 0
    for mesh, curves in routed:
        sink, _slot = sinks[mesh.key.name]
        for data_path, group, frames, values, handles in curves:
            fill_keys(sink.new_fcurve(data_path, group), frames, values, handles)
            fcurves += 1
            keys += len(frames)
    return actions, sinks, fcurves, keys


def _ensure_pose_properties(key: bpy.types.Key) -> None:
    for pose_name in POSE:
        if pose_name not in key:
            key[pose_name] = 0.0
            key.id_properties_ui(pose_name).update(
                min=-1.0, max=1.0, soft_min=-1.0, soft_max=1.0,
                description="Head/eye rotation from KeyframeFace (radians)")


def ensure_track(key: bpy.types.Key, track_name: str):
    """The tool's NLA track for a layer, and whether it was created now."""
    animation = key.animation_data or key.animation_data_create()
    found = animation.nla_tracks.get(track_name)
    if found is not None:
        return found, False
    found = animation.nla_tracks.new()
    found.name = track_name
    return found, True


def _rest_curves(routed, layered, start_frame: int):
    """One key at 0 for every channel the take or a layer writes, per mesh."""
    paths: dict[str, tuple[object, dict[str, str]]] = {}
    for curves_by_mesh in [routed, *layered.values()]:
        for mesh, curves in curves_by_mesh:
            entry = paths.setdefault(mesh.key.name, (mesh, {}))
            for data_path, group, *_keys in curves:
                entry[1][data_path] = group
    zero_frame = np.array([start_frame], dtype=np.float64)
    return [(mesh, [(path, group, zero_frame, np.zeros(1), None) for path, group in groups.items()])
            for mesh, groups in paths.values()]


def _place_strips(routed, sinks, track_name: str, blend: str, extrapolation: str, start_frame: int, created) -> None:
    """Put each mesh's action for a layer on the tool's NLA track of that name, replacing the
    strip of an earlier take (whose action stays, with a fake user)."""
    for mesh, _ in routed:
        nla_track, is_new = ensure_track(mesh.key, track_name)
        if is_new:
            created["tracks"].append((mesh.key.name, track_name))
        for strip in list(nla_track.strips):
            nla_track.strips.remove(strip)
        sink, slot = sinks[mesh.key.name]
        strip = nla_track.strips.new(track_name, int(start_frame), sink.action)
        if slot is not None:
            strip.action_slot = slot
        strip.blend_type = blend
        strip.extrapolation = extrapolation


def write_track(scene: bpy.types.Scene, rig: RigMapping, track: Track, start_frame: int,
                take_name: str | None = None, add_markers: bool = True) -> WriteResult:
    """Write a generated ``track`` onto ``rig`` from ``start_frame``: a new take with its
    layers and markers; see the module docstring."""
    fps = scene_fps(scene)
    base_keys = composed_keys(track, fps, layers="base")
    # Layers (lip sync) are replaced whole, never edited key by key: the fewest fitted keys.
    layer_keys = {name: composed_keys(track, fps, layers=name, fitted=True) for name in layer_names(track, "add")}
    if not base_keys and not any(layer_keys.values()):
        raise WriteError("The track is neutral throughout: nothing to key.")
    markers = []
    if add_markers:
        markers = track_markers(track, fps)
    properties = {TRACK_PROPERTY: track.to_json(indent=None)}
    return write_take(scene, rig, base_keys, layer_keys, start_frame, take_name, markers, properties)


def write_take(scene: bpy.types.Scene, rig: RigMapping, base_keys, layer_keys: dict, start_frame: int,
               take_name: str | None = None, markers=(), properties: dict | None = None) -> WriteResult:
    """Write keys (``{parameter: (frames, values) or FittedCurve}``, frames from 0) as a new
    take on ``rig``.

    With ``layer_keys`` the take adds onto the tool's NLA layer tracks (lip sync) over a rest
    track; without, it replaces the shapes it keys. ``markers`` are ``(frame, name)`` pairs.
    """
    if not rig.meshes:
        raise WriteError("No ARKit shape keys to write to.")
    routed, written = _route(rig, base_keys, start_frame, with_pose=True)
    routed_layers = {}
    for layer, keys in layer_keys.items():
        routed_layers[layer], layer_written = _route(rig, keys, start_frame, with_pose=True)
        written |= layer_written
    if not routed:
        raise WriteError("None of the shapes to key exist on this rig.")
    generated = set(base_keys).union(*(set(k) for k in layer_keys.values()))
    dropped = sorted(name for name in generated if name in BLENDSHAPE_INDEX and name not in written)
    layered = {layer: r for layer, r in routed_layers.items() if r}

    all_frames = [key_arrays(entry)[0].max() for keys in (base_keys, *layer_keys.values()) for entry in keys.values()]
    end_frame = start_frame + int(max(all_frames))
    primary = rig.primary
    name = take_name or f"KFF {primary.obj.name}"
    keys_touched = {mesh.key.name: mesh.key for mesh in rig.meshes}
    previous = {key_name: anim_compat.current_assignment(key) for key_name, key in keys_touched.items()}
    previous_blend = {key_name: (key.animation_data.action_blend_type if key.animation_data else None)
                      for key_name, key in keys_touched.items()}
    created = {"actions": [], "markers": [], "tracks": []}
    blend = "ADD" if layered else "REPLACE"
    try:
        _ensure_pose_properties(primary.key)
        actions, sinks, fcurve_count, key_count = _write_action(name, routed, created)
        layer_actions = []
        if layered:
            # Adding needs a zero underneath: a shape key's RNA default is 1.0.
            rest_routed = _rest_curves(routed, layered, start_frame)
            rest_actions, rest_sinks, _, _ = _write_action(f"{name} rest", rest_routed, created)
            for action in rest_actions:
                action[ROLE] = "rest"
            layer_actions.extend(rest_actions)
            _place_strips(rest_routed, rest_sinks, BASE_TRACK_NAME, "REPLACE", "HOLD", start_frame, created)
        for layer, layer_routed in layered.items():
            actions_l, sinks_l, count_f, count_k = _write_action(f"{name} {layer}", layer_routed, created)
            for action in actions_l:
                action[ROLE] = layer
            layer_actions.extend(actions_l)
            fcurve_count += count_f
            key_count += count_k
            _place_strips(layer_routed, sinks_l, LAYER_TRACK_NAMES.get(layer, f"KeyframeFace {layer}"),
                          "ADD", "NOTHING", start_frame, created)
        if not layered:
            _clear_layer_tracks(rig)

        take_id = uuid.uuid4().hex
        for action in actions + layer_actions:
            action[TAKE_TAG] = action in actions
            action[TAKE_ID] = take_id
            action.use_fake_user = True
        for action in actions:
            action[ROLE] = MAIN_ROLE
            for key, value in (properties or {}).items():
                action[key] = value
            action["keyframeface_start_frame"] = int(start_frame)
            action["keyframeface_blend"] = blend
            action[LAYER_ACTION_PROPERTY] = ",".join(a.name for a in layer_actions)
            # The artist's action from before the first take, so deleting takes can go back to it.
            for old_action, _ in previous.values():
                if old_action is None:
                    continue
                artist_action = old_action.get("keyframeface_previous_action") if is_take(old_action) else old_action.name
                if artist_action:
                    action["keyframeface_previous_action"] = artist_action
                    break

        kept = []
        for mesh, _ in routed:
            old_action, _ = previous[mesh.key.name]
            if old_action is not None and not is_take(old_action) and not old_action.use_fake_user:
                # Without a user the artist's action would be deleted on save.
                old_action.use_fake_user = True
                kept.append(old_action.name)
            sink, slot = sinks[mesh.key.name]
            anim_compat.assign(mesh.key, sink.action, slot)
            # With layers, the take adds onto them (lip sync over the rest track).
            mesh.key.animation_data.action_blend_type = blend

        if markers:
            for marker in list(scene.timeline_markers):
                if _is_tool_marker(marker) and start_frame <= marker.frame <= end_frame:
                    scene.timeline_markers.remove(marker)
            for frame, marker_name in markers:
                created["markers"].append(scene.timeline_markers.new(marker_name, frame=start_frame + frame))

        extended = False
        if end_frame > scene.frame_end:
            scene.frame_end = end_frame
            extended = True
    except Exception as error:
        _undo(created, previous, previous_blend, keys_touched, scene)
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
        markers=len(created["markers"]),
        kept_actions=kept,
        extended_scene=extended,
        layer_actions=layer_actions,
    )


def _clear_layer_tracks(rig: RigMapping) -> None:
    """A take without layers (a capture) plays alone: earlier takes' layer strips come off."""
    for mesh in rig.meshes:
        animation = mesh.key.animation_data
        if animation is None:
            continue
        for track_name in (BASE_TRACK_NAME, *LAYER_TRACK_NAMES.values()):
            found = animation.nla_tracks.get(track_name)
            if found is not None:
                for strip in list(found.strips):
                    found.strips.remove(strip)


def _undo(created, previous, previous_blend, keys_touched, scene) -> None:
    for key_name, key in keys_touched.items():
        animation = key.animation_data
        if animation is None:
            continue
        action, slot = previous[key_name]
        animation.action = action
        if slot is not None:
            animation.action_slot = slot
        if previous_blend[key_name] is not None:
            animation.action_blend_type = previous_blend[key_name]
        for owner, track_name in created["tracks"]:
            found = animation.nla_tracks.get(track_name)
            if owner == key_name and found is not None:
                animation.nla_tracks.remove(found)
    for marker in created["markers"]:
        try:
            scene.timeline_markers.remove(marker)
        except (ReferenceError, RuntimeError):
            pass
    for action in created["actions"]:
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


def layer_track(key: bpy.types.Key, layer: str = "lipsync"):
    """The NLA track holding a layer of the generated takes on ``key``, if any."""
    animation = key.animation_data
    if animation is None:
        return None
    return animation.nla_tracks.get(LAYER_TRACK_NAMES.get(layer, f"KeyframeFace {layer}"))
