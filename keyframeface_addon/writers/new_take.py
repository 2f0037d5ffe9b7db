"""A performance as a new take: actions the tool owns, the artist's never edited.

One take per generation or import: a main action (on Blender 4.4+ one action with a slot per
Key datablock) assigned to each mesh's shape keys. It holds the expression keyframes with the
blinks; the lip-sync layer goes into its own action on an NLA track named
``KeyframeFace Lip Sync`` below it, so the artist can mute or replace the lip sync without
touching the expression. Layers add up: Blender sums the lip-sync track and the take (blend
mode Add), then clamps to the shape's range, exactly how ``model_runtime.playback`` combines
them. The bottom track ``KeyframeFace Rest`` holds every mapped shape and pose property at 0,
so a take defines the whole face over its range: nothing plays a value left by an earlier take
or a slider, and adding has a zero to add onto (a shape key's RNA default is 1.0). Head and eye
pose also drive the mapped bones or the head object, as part of the take.

The artist's previous action is never edited or deleted: it keeps a fake user so it survives
saving. Each semantic keyframe becomes a timeline marker with its label and description.
Everything is validated before the first write; a failure part-way removes what was created
and restores the previous state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from ...model_runtime.arkit import BLENDSHAPE_INDEX, POSE
from ...model_runtime.errors import KeyframeFaceError
from .. import anim_compat
from ..pose_bones import write_pose_bones
from ..rig import RigMapping
from ..takes import (LAYER_TRACKS, POSE_ROLE, REST_ROLE, REST_TRACK, ROLE, SEED, TRACK_PROPERTY, Take, active_take,
                     artist_action_name, is_take, layer_track_name, show_markers)
from .channels import (ComposedTrack, PlaceOptions, Placement, WriteError, channel_paths, clear_track, ensure_pose_properties, key_arrays,
                       place_strips, route, scene_fps, write_action)


@dataclass
class WriteResult:
    take: Take
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
    warnings: list[str] = field(default_factory=list)


def write_track(scene: bpy.types.Scene, rig: RigMapping, composed: ComposedTrack, start_frame: int,
                take_name: str | None = None, add_markers: bool = True) -> WriteResult:
    """Write a generated track (composed once by the caller) onto ``rig`` from ``start_frame``:
    a new take with its layers and markers; see the module docstring."""
    if not composed.base and not any(composed.layers.values()):
        raise WriteError("The track is neutral throughout: nothing to key.")
    properties = {TRACK_PROPERTY: composed.track.to_json(indent=None)}
    return write_take(scene, rig, composed.base, composed.layers, start_frame, take_name, add_markers, properties)


def _rest_curves(rig: RigMapping, start_frame: int):
    """One key at 0 for every mapped shape (and, on the primary mesh, pose property) per mesh."""
    zero_frame = np.array([start_frame], dtype=np.float64)
    return [(mesh, [(path, group, zero_frame, np.zeros(1), None) for path, group in channel_paths(rig, mesh).values()])
            for mesh in rig.meshes]


def write_take(scene: bpy.types.Scene, rig: RigMapping, base_keys, layer_keys: dict, start_frame: int,
               take_name: str | None = None, add_markers: bool = True, properties: dict | None = None) -> WriteResult:
    """Write keys (``{parameter: (frames, values) or FittedCurve}``, frames from 0) as a new
    take on ``rig``.

    With ``layer_keys`` the take adds onto the tool's NLA layer tracks (lip sync); without, it
    replaces the rest. Either way the rest track holds every mapped shape the take leaves silent
    at 0. ``add_markers``: the take shows its keyframes as timeline markers while it plays.
    """
    if not rig.meshes:
        raise WriteError("No ARKit shape keys to write to.")
    routed, written = route(rig, base_keys, start_frame)
    routed_layers = {}
    for layer, keys in layer_keys.items():
        routed_layers[layer], layer_written = route(rig, keys, start_frame)
        written |= layer_written
    if not routed:
        raise WriteError("None of the shapes to key exist on this rig.")
    generated = set(base_keys).union(*(set(k) for k in layer_keys.values()))
    dropped = sorted(name for name in generated if name in BLENDSHAPE_INDEX and name not in written)
    layered = {layer: r for layer, r in routed_layers.items() if r}

    all_frames = [key_arrays(entry)[0].max() for keys in (base_keys, *layer_keys.values()) for entry in keys.values()]
    end_frame = start_frame + int(max(all_frames))
    fps = scene_fps(scene)
    primary = rig.primary
    name = take_name or f"KFF {primary.obj.name}"
    keys_touched = {mesh.key.name: mesh.key for mesh in rig.meshes}
    previous = {key_name: anim_compat.current_assignment(key) for key_name, key in keys_touched.items()}
    previous_blend = {key_name: (key.animation_data.action_blend_type if key.animation_data else None)
                      for key_name, key in keys_touched.items()}
    playing = active_take(rig)
    old_markers = playing.markers(fps) if playing is not None else []
    created = {"actions": [], "markers": [], "tracks": []}
    blend = "ADD" if layered else "REPLACE"
    try:
        ensure_pose_properties(primary.key)
        actions, sinks, fcurve_count, key_count = write_action(name, routed, created)
        rest_routed = _rest_curves(rig, start_frame)
        layer_actions, rest_sinks, _, _ = write_action(f"{name} rest", rest_routed, created)
        for action in layer_actions:
            action[ROLE] = REST_ROLE
        place_strips(rest_routed, rest_sinks, REST_TRACK, "REPLACE", "HOLD", start_frame, created)
        for layer, layer_routed in layered.items():
            actions_l, sinks_l, count_f, count_k = write_action(f"{name} {layer}", layer_routed, created)
            for action in actions_l:
                action[ROLE] = layer
            layer_actions.extend(actions_l)
            fcurve_count += count_f
            key_count += count_k
            place_strips(layer_routed, sinks_l, layer_track_name(layer), "ADD", "NOTHING", start_frame, created)
        for layer in set(LAYER_TRACKS) - set(layered):
            # A take without that layer (a capture) plays alone: earlier takes' strips come off.
            for mesh in rig.meshes:
                clear_track(mesh.key, layer_track_name(layer))

        pose_keys = {name: key_arrays(entry)[:2] for name, entry in base_keys.items() if name in POSE}
        pose_actions, warnings = write_pose_bones(rig, pose_keys, start_frame)
        created["actions"].extend(pose_actions)
        for pose_action in pose_actions:
            pose_action[ROLE] = POSE_ROLE
        layer_actions.extend(pose_actions)

        artist_action = next((artist_action_name(action) for action, _ in previous.values() if artist_action_name(action)), None)
        take = Take.create(actions, layer_actions, start_frame, blend, artist_action, add_markers, properties)

        kept = []
        routed_keys = {mesh.key.name for mesh, _ in routed}
        for mesh in rig.meshes:
            old_action, _ = previous[mesh.key.name]
            if old_action is not None and not is_take(old_action) and not old_action.use_fake_user:
                # Without a user the artist's action would be deleted on save.
                old_action.use_fake_user = True
                kept.append(old_action.name)
            if mesh.key.name not in routed_keys:
                # A mesh the take does not key plays its rest, not an earlier take.
                if is_take(old_action):
                    mesh.key.animation_data.action = None
                continue
            sink, slot = sinks[mesh.key.name]
            anim_compat.assign(mesh.key, sink.action, slot)
            # With layers, the take adds onto them (lip sync over the rest track).
            mesh.key.animation_data.action_blend_type = blend

        created["markers"] = show_markers(scene, old_markers, take.markers(fps))

        extended = False
        if end_frame > scene.frame_end:
            scene.frame_end = end_frame
            extended = True
    except Exception as error:
        _undo(created, previous, previous_blend, keys_touched, scene, old_markers)
        if isinstance(error, KeyframeFaceError):
            raise
        raise WriteError(f"Writing keys failed and was undone: {error}") from error

    return WriteResult(
        take=take,
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
        warnings=warnings,
    )


def _undo(created, previous, previous_blend, keys_touched, scene, old_markers) -> None:
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
    if created["markers"]:
        show_markers(scene, [], old_markers)
    for action in created["actions"]:
        try:
            bpy.data.actions.remove(action)
        except ReferenceError:
            pass


def place(scene: bpy.types.Scene, rig: RigMapping, composed: ComposedTrack, start: int, options: PlaceOptions) -> Placement:
    """The New Take write mode."""
    written = write_track(scene, rig, composed, start, take_name=options.take_name, add_markers=options.add_markers)
    if options.seed is not None:
        written.take.set(SEED, options.seed)
    return Placement(written.start_frame, written.end_frame, written.keys, f"new take '{written.take.name}'",
                     written, written.dropped, written.warnings)
