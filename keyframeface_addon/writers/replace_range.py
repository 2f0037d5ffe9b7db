"""A performance replacing a frame range of the action that is playing: keys inside
[start, end] on the channels written are replaced; keys outside the range are never touched."""

from __future__ import annotations

from .. import anim_compat
from ..pose_bones import write_pose_bones
from ..rig import RigMapping
from .channels import ComposedTrack, PlaceOptions, Placement, WriteError, ensure_pose_properties, key_arrays, route


def replace_range(rig: RigMapping, keys: dict, start_frame: int) -> tuple[int, int, int]:
    """Write ``keys`` (frames from 0) into the action playing on each mesh, replacing only the
    keys inside their frame range. Returns (first frame, last frame, keys written)."""
    routed, _ = route(rig, keys, start_frame)
    if not routed:
        raise WriteError("None of the generated shapes exist on this rig.")
    end_frame = start_frame + int(max(key_arrays(entry)[0].max() for entry in keys.values()))
    targets = []
    for mesh, curves in routed:
        action, slot = anim_compat.current_assignment(mesh.key)
        if action is None:
            raise WriteError(f"'{mesh.obj.name}' plays no action to replace a range in; use New Take instead.")
        targets.append((mesh, curves, anim_compat.fcurve_container(action, slot)))
    ensure_pose_properties(rig.primary.key)
    written = 0
    for mesh, curves, container in targets:
        existing = {fc.data_path: fc for fc in container.fcurves}
        for data_path, group, frames, values, handles in curves:
            fcurve = existing.get(data_path)
            if fcurve is None:
                fcurve = container.fcurves.new(data_path, index=0)
                fcurve.group = container.groups.get(group) or container.groups.new(group)
            for point in reversed(list(fcurve.keyframe_points)):
                if start_frame <= point.co[0] <= end_frame:
                    fcurve.keyframe_points.remove(point, fast=True)
            first = len(fcurve.keyframe_points)
            fcurve.keyframe_points.add(len(frames))
            kinds = handles.handle_types() if handles is not None else ["AUTO_CLAMPED"] * len(frames)
            for i, point in enumerate(list(fcurve.keyframe_points)[first:]):
                point.co = (float(frames[i]), float(values[i]))
                point.interpolation = "BEZIER"
                # Types first: Blender recomputes the handles of the types it owns, not fitted ones.
                point.handle_left_type = point.handle_right_type = kinds[i]
                if handles is not None:
                    point.handle_left = (handles.left_x[i], handles.left_y[i])
                    point.handle_right = (handles.right_x[i], handles.right_y[i])
            fcurve.auto_smoothing = "NONE"
            fcurve.update()
            written += len(frames)
    return start_frame, end_frame, written


def place(scene, rig: RigMapping, composed: ComposedTrack, start: int, options: PlaceOptions) -> Placement:
    """The Replace Range write mode."""
    first, last, keys = replace_range(rig, composed.all, start)
    _, warnings = write_pose_bones(rig, composed.pose(), start)
    return Placement(first, last, keys, f"replaced frames {first}-{last}", warnings=warnings)
