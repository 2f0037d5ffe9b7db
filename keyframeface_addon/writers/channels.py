"""Channel writing shared by every writer: which mesh and data path each composed parameter
goes to, F-curve keys created in bulk, actions holding them, and the tool's NLA strips.

Keys are created in bulk (``keyframe_points.add`` + ``foreach_set``), Bezier with Auto Clamped
handles (never overshooting the keys) or, for reduced captures and layers, the handles the
reducer fitted (``model_runtime.fitting``), one F-curve per shape used, grouped by face region. Head
and eye pose go to custom properties on the primary Key (``key["headYaw"]``) so they are keyed
beside the shapes instead of silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import bpy
import numpy as np

from ...model_runtime.arkit import BLENDSHAPE_INDEX, POSE, region_of
from ...model_runtime.errors import KeyframeFaceError
from ...model_runtime.fitting import FittedCurve
from ...model_runtime.playback import composed_keys, key_arrays, layer_names
from .. import anim_compat
from ..rig import RigMapping

POSE_GROUP = "Head & Eyes"

_BEZIER = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["BEZIER"].value
_HANDLE_TYPES = bpy.types.Keyframe.bl_rna.properties["handle_left_type"].enum_items
_AUTO_CLAMPED = _HANDLE_TYPES["AUTO_CLAMPED"].value

# (data path, F-curve group, frames, values, fitted handles or None for Auto Clamped) per F-curve.
Curves = list[tuple[str, str, np.ndarray, np.ndarray, FittedCurve | None]]


class WriteError(KeyframeFaceError):
    """Keys could not be written; nothing was changed."""


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def shape_path(block_name: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(block_name)}"].value'


def pose_path(name: str) -> str:
    return f'["{name}"]'


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
    # Types first: Blender recomputes the handles of the types it owns, not fitted ones.
    points.foreach_set("handle_left_type", kinds)
    points.foreach_set("handle_right_type", kinds)
    if handles is not None:
        points.foreach_set("handle_left", _pairs(handles.left_x, handles.left_y))
        points.foreach_set("handle_right", _pairs(handles.right_x, handles.right_y))
    # Classic auto handles: the curve the model runtime evaluates is exactly what Blender plays.
    fcurve.auto_smoothing = "NONE"
    fcurve.update()


def channel_paths(rig: RigMapping, mesh) -> dict[str, tuple[str, str]]:
    """``{parameter: (data path, group)}`` for every parameter ``mesh`` carries: its mapped
    shapes, and on the primary mesh the 9 pose properties."""
    paths = {name: (shape_path(block), region_of(name)) for name, block in mesh.shapes.items()}
    if mesh is rig.primary:
        paths.update({name: (pose_path(name), POSE_GROUP) for name in POSE})
    return paths


def route(rig: RigMapping, keys, start_frame: int):
    """Assign keys (``{parameter: (frames, values) or FittedCurve}``, frames from 0) to meshes:
    ``[(mesh, curves)]`` and the shapes written."""
    routed = []
    written: set[str] = set()
    for mesh in rig.meshes:
        paths = channel_paths(rig, mesh)
        curves: Curves = []
        for name, entry in keys.items():
            if name in paths:
                frames, values, handles = key_arrays(entry)
                handles = handles.shifted(start_frame) if handles is not None else None
                curves.append((*paths[name], frames + start_frame, values, handles))
                if name in BLENDSHAPE_INDEX:
                    written.add(name)
        if curves:
            routed.append((mesh, curves))
    return routed, written


def write_action(name: str, routed, created: dict) -> tuple[list[bpy.types.Action], dict, int, int]:
    """New action(s) holding ``routed`` curves; returns the actions, the sinks per Key name, and
    the F-curve and key counts. What it creates is listed in ``created`` for an undo."""
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


def ensure_pose_properties(key: bpy.types.Key) -> None:
    for pose_name in POSE:
        if pose_name not in key:
            key[pose_name] = 0.0
            key.id_properties_ui(pose_name).update(
                min=-1.0, max=1.0, soft_min=-1.0, soft_max=1.0,
                description="Head/eye rotation from KeyframeFace (radians)")


def ensure_track(key: bpy.types.ID, track_name: str):
    """The tool's NLA track of that name on ``key``, and whether it was created now."""
    animation = key.animation_data or key.animation_data_create()
    found = animation.nla_tracks.get(track_name)
    if found is not None:
        return found, False
    found = animation.nla_tracks.new()
    found.name = track_name
    return found, True


def place_strip(id_: bpy.types.ID, track_name: str, action, slot, start_frame: int, blend: str,
                extrapolation: str) -> bool:
    """Put ``action`` (its ``slot``) alone on the tool's NLA track ``track_name`` of ``id_``,
    replacing the strip an earlier take left there (whose action stays). Returns whether the
    track was created."""
    nla_track, is_new = ensure_track(id_, track_name)
    for strip in list(nla_track.strips):
        nla_track.strips.remove(strip)
    strip = nla_track.strips.new(track_name, int(start_frame), action)
    if slot is not None:
        strip.action_slot = slot
    strip.blend_type = blend
    strip.extrapolation = extrapolation
    return is_new


def place_strips(routed, sinks, track_name: str, blend: str, extrapolation: str, start_frame: int, created) -> None:
    """Each mesh's action for a layer on the tool's NLA track of that name."""
    for mesh, _ in routed:
        sink, slot = sinks[mesh.key.name]
        if place_strip(mesh.key, track_name, sink.action, slot, start_frame, blend, extrapolation):
            created["tracks"].append((mesh.key.name, track_name))


def clear_track(id_: bpy.types.ID, track_name: str) -> None:
    animation = id_.animation_data
    found = animation.nla_tracks.get(track_name) if animation is not None else None
    if found is not None:
        for strip in list(found.strips):
            found.strips.remove(strip)


class ComposedTrack:
    """A track's composed keys at the scene's rate, each set computed at most once per generation."""

    def __init__(self, track, fps: float):
        self.track = track
        self.fps = fps

    @cached_property
    def all(self) -> dict:
        """The whole performance in one set of curves (replace range, layer on top)."""
        return composed_keys(self.track, self.fps)

    @cached_property
    def base(self) -> dict:
        """The expression with blinks: a take's main action."""
        return composed_keys(self.track, self.fps, layers="base")

    @cached_property
    def layers(self) -> dict[str, dict]:
        """The added layers (lip sync) apart, each for its own NLA track: replaced whole, never
        edited key by key, so the fewest keys with fitted handles."""
        return {name: composed_keys(self.track, self.fps, layers=name, fitted=True)
                for name in layer_names(self.track, "add")}

    def pose(self) -> dict:
        """Head and eye pose keys, for mapped bones."""
        return {name: keys for name, keys in self.base.items() if name in POSE}


@dataclass
class PlaceOptions:
    """What a new take records; the other writers ignore it."""

    take_name: str
    add_markers: bool = True
    seed: int | None = None


@dataclass
class Placement:
    """Where a writer put a performance: its frames, keys and a summary for the report."""

    start_frame: int
    end_frame: int
    keys: int
    summary: str
    written: object | None = None  # the new take's WriteResult
    dropped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
