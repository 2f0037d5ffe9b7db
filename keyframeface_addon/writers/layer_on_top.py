"""A performance as an NLA layer on top of the artist's animation: the artist's action is
pushed down into an NLA strip (as Blender's Push Down does) and the performance is added on a
new NLA track above it, so both play and either can be muted."""

from __future__ import annotations

from .. import anim_compat
from ..pose_bones import write_pose_bones
from ..rig import RigMapping
from .channels import (ComposedTrack, PlaceOptions, Placement, WriteError, ensure_pose_properties, ensure_track,
                       place_strips, route, write_action)

LAYER_PREFIX = "KeyframeFace Layer"


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


def layer_on_top(rig: RigMapping, keys: dict, start_frame: int, seed: int) -> tuple[str, int]:
    """Add ``keys`` (frames from 0) as a new NLA layer above the artist's animation. Returns
    the layer track's name and the keys written.

    Channels the animation below already moves are added onto it (blend Add); channels nothing
    below moves are set by a second strip (blend Replace), because adding onto a shape key
    with nothing underneath starts from its RNA default of 1.0."""
    routed, _ = route(rig, keys, start_frame)
    if not routed:
        raise WriteError("None of the generated shapes exist on this rig.")
    ensure_pose_properties(rig.primary.key)
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
    name = f"{LAYER_PREFIX} s{seed}"
    taken = {t.name for mesh, _ in routed for t in mesh.key.animation_data.nla_tracks}
    counter = 1
    while name in taken or f"{name} new" in taken:
        counter += 1
        name = f"{LAYER_PREFIX} s{seed}.{counter}"
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
        actions, sinks, _, count = write_action(f"KFF {track_name}", part, created)
        for action in actions:
            action.use_fake_user = True
        place_strips(part, sinks, track_name, blend, "NOTHING", start_frame, created)
        key_count += count
    return name, key_count


def place(scene, rig: RigMapping, composed: ComposedTrack, start: int, options: PlaceOptions) -> Placement:
    """The Layer on Top write mode."""
    name, keys = layer_on_top(rig, composed.all, start, composed.track.seed)
    _, warnings = write_pose_bones(rig, composed.pose(), start)
    end = start + round(composed.track.duration * composed.fps)
    return Placement(start, end, keys, f"added as NLA layer '{name}'", warnings=warnings)
