"""Tools for F-curves, the artist's own included: clamp shape-key handles into 0..1, smooth,
and reduce any curve (shape keys, bones, objects) to the fewest keys within an error bound."""

from __future__ import annotations

import bpy
import numpy as np

from ..model_runtime.fitting import fit_curve
from . import anim_compat
from .writers.channels import fill_keys


def shape_key_fcurves(obj: bpy.types.Object, selected_only: bool = False) -> list[bpy.types.FCurve]:
    """F-curves of the active action of ``obj``'s shape keys (and its child meshes')."""
    from .rig import find_rig

    curves = []
    for mesh in find_rig(obj).meshes:
        for fcurve in anim_compat.fcurves_for(mesh.key):
            if fcurve.data_path.startswith("key_blocks") and (fcurve.select or not selected_only):
                curves.append(fcurve)
    return curves


def clamp_handles(fcurve: bpy.types.FCurve, low: float = 0.0, high: float = 1.0) -> int:
    """Make every key's Bezier segment stay inside [low, high]: keys outside are clamped and
    handles that would overshoot become Auto Clamped. Returns how many keys changed."""
    changed = 0
    for point in fcurve.keyframe_points:
        moved = False
        if not low <= point.co[1] <= high:
            point.co[1] = min(max(point.co[1], low), high)
            moved = True
        if not (low <= point.handle_left[1] <= high and low <= point.handle_right[1] <= high) or moved:
            point.handle_left_type = point.handle_right_type = "AUTO_CLAMPED"
            moved = True
        changed += moved
    fcurve.update()
    return changed


def smooth_fcurve(fcurve: bpy.types.FCurve, strength: float = 0.5) -> int:
    """Pull each inner key towards the average of its neighbours (ends stay). Returns keys moved."""
    points = fcurve.keyframe_points
    if len(points) < 3:
        return 0
    values = np.array([p.co[1] for p in points])
    smoothed = values.copy()
    smoothed[1:-1] = (1 - strength) * values[1:-1] + strength * 0.5 * (values[:-2] + values[2:])
    for point, value in zip(points, smoothed):
        point.co[1] = value
    fcurve.update()
    return len(points) - 2


def reduce_fcurve(fcurve: bpy.types.FCurve, max_error: float) -> tuple[int, int]:
    """Replace an F-curve's keys by the fewest keys with fitted handles that stay within
    ``max_error`` of it at every frame (and at its own keys' times) and never leave the range
    it covers there. Any values (bones, objects), not only 0..1. Returns (keys before, after)."""
    points = fcurve.keyframe_points
    before = len(points)
    if before < 3:
        return before, before
    co = np.empty(before * 2, dtype=np.float32)
    points.foreach_get("co", co)
    start, end = fcurve.range()
    frames = np.union1d(np.arange(np.ceil(start), np.floor(end) + 1), co[0::2].astype(np.float64))
    values = np.array([fcurve.evaluate(frame) for frame in frames])
    curve = fit_curve(frames, values, max_error)
    if len(curve) >= before:
        return before, before
    points.clear()
    fill_keys(fcurve, curve.x, curve.y, curve)
    return before, len(curve)
