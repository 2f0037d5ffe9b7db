"""Where a generated performance goes besides a new take: replacing a frame range of the
action that is playing, or a layer added on top of the artist's animation.

Replace: keys inside [start, end] on the channels written are replaced; keys outside the range
are never touched. Layer: the artist's action is pushed down into an NLA strip (as Blender's
Push Down does) and the performance is added on a new NLA track above it, so both play and
either can be muted.
"""

from __future__ import annotations

from ..model_runtime.playback import composed_keys
from ..model_runtime.track import Track
from . import anim_compat
from .rig import RigMapping
from .writer import WriteError, _ensure_pose_properties, _place_strips, _route, _write_action, ensure_track, scene_fps

LAYER_PREFIX = "KeyframeFace Layer"


def replace_range(scene, rig: RigMapping, track: Track, start_frame: int) -> tuple[int, int, int]:
    """Write the whole performance into the action playing on each mesh, replacing only the
    keys inside its frame range. Returns (first frame, last frame, keys written)."""
    keys = composed_keys(track, scene_fps(scene))
    routed, _ = _route(rig, keys, start_frame, with_pose=True)
    if not routed:
        raise WriteError("None of the generated shapes exist on this rig.")
    end_frame = start_frame + int(max(frames.max() for frames, _ in keys.values()))
    targets = []
    for mesh, curves in routed:
        action, slot = anim_compat.current_assignment(mesh.key)
        if action is None:
            raise WriteError(f"'{mesh.obj.name}' plays no action to replace a range in; use New Take instead.")
        targets.append((mesh, curves, anim_compat.fcurve_container(action, slot)))
    _ensure_pose_properties(rig.primary.key)
    written = 0
    for mesh, curves, container in targets:
        existing = {fc.data_path: fc for fc in container.fcurves}
        for data_path, group, frames, values, _handles in curves:
            fcurve = existing.get(data_path)
            if fcurve is None:
                fcurve = container.fcurves.new(data_path, index=0)
                fcurve.group = container.groups.get(group) or container.groups.new(group)
            for point in reversed(list(fcurve.keyframe_points)):
                if start_frame <= point.co[0] <= end_frame:
                    fcurve.keyframe_points.remove(point, fast=True)
            first = len(fcurve.keyframe_points)
            fcurve.keyframe_points.add(len(frames))
            for point, frame, value in zip(list(fcurve.keyframe_points)[first:], frames, values):
                point.co = (float(frame), float(value))
                point.interpolation = "BEZIER"
                point.handle_left_type = point.handle_right_type = "AUTO_CLAMPED"
            fcurve.auto_smoothing = "NONE"
            fcurve.update()
            written += len(frames)
    return start_frame, end_frame, written


def _animated_below(key) -> set[str]:
    """Data paths that the NLA tracks of ``key`` already animate."""
    paths = set()
    animation = key.animation_data
    for nla_track in (animation.nla_tracks if animation else []):
        for strip in nla_track.strips:
            slot = getattr(strip, "action_slot", None)
            if strip.action is not None:
                paths.update(fc.data_path for fc in anim_compat.fcurve_container(strip.action, slot).fcurves)
    return paths


def layer_on_top(scene, rig: RigMapping, track: Track, start_frame: int) -> tuple[str, int]:
    """Add the performance as a new NLA layer above the artist's animation. Returns the layer
    track's name and the keys written.

    Channels the animation below already moves are added onto it (blend Add); channels nothing
    below moves are set by a second strip (blend Replace), because adding onto a shape key
    with nothing underneath starts from its RNA default of 1.0."""
    keys = composed_keys(track, scene_fps(scene))
    routed, _ = _route(rig, keys, start_frame, with_pose=True)
    if not routed:
        raise WriteError("None of the generated shapes exist on this rig.")
    _ensure_pose_properties(rig.primary.key)
    created = {"actions": [], "markers": [], "tracks": []}
    for mesh, _ in routed:
        animation = mesh.key.animation_data or mesh.key.animation_data_create()
        action, slot = anim_compat.current_assignment(mesh.key)
        if action is not None:
            # Push the playing action down (as Blender's Push Down does) so the layer adds onto it.
            pushed, _ = ensure_track(mesh.key, action.name)
            strip = pushed.strips.new(action.name, int(action.frame_range[0]), action)
            if slot is not None:
                strip.action_slot = slot
            action.use_fake_user = True
            animation.action = None
    name = f"{LAYER_PREFIX} s{track.seed}"
    taken = {t.name for mesh, _ in routed for t in mesh.key.animation_data.nla_tracks}
    counter = 1
    while name in taken or f"{name} new" in taken:
        counter += 1
        name = f"{LAYER_PREFIX} s{track.seed}.{counter}"
    adding, setting = [], []
    for mesh, curves in routed:
        below = _animated_below(mesh.key)
        adding.append((mesh, [c for c in curves if c[0] in below]))
        setting.append((mesh, [c for c in curves if c[0] not in below]))
    key_count = 0
    for part, blend, track_name in ((adding, "ADD", name), (setting, "REPLACE", f"{name} new")):
        part = [(mesh, curves) for mesh, curves in part if curves]
        if not part:
            continue
        actions, sinks, _, count = _write_action(f"KFF {track_name}", part, created)
        for action in actions:
            action.use_fake_user = True
        _place_strips(part, sinks, track_name, blend, "NOTHING", start_frame, created)
        key_count += count
    return name, key_count
