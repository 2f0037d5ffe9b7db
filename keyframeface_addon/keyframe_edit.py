"""Editing one semantic keyframe of a take: re-solve it from an edited description, nudge its
time, or regenerate it as a fresh variation. Only the keys at that keyframe's frame change;
every other key (the artist's edits included) stays as it is."""

from __future__ import annotations

import bpy
import numpy as np

from ..model_runtime.arkit import BLENDSHAPE_INDEX, POSE
from ..model_runtime.audio.sync import with_alignment
from ..model_runtime.backends import GenerateRequest, get_backend
from ..model_runtime.errors import KeyframeFaceError
from ..model_runtime.playback import composed_keys, key_arrays
from ..model_runtime.track import Track
from . import anim_compat
from .rig import RigMapping
from .takes import Take, show_markers
from .writers.channels import channel_paths, fill_keys, scene_fps


class EditError(KeyframeFaceError):
    """The keyframe edit cannot be made; nothing changed."""


def _main_containers(rig: RigMapping, take: Take):
    """``(mesh, F-curve container)`` of the take's main action for every mesh it animates."""
    mains = take.main_actions()
    for mesh in rig.meshes:
        action, slot = anim_compat.channels_for(mains, mesh.key)
        if action is not None:
            yield mesh, anim_compat.fcurve_container(action, slot)


def _main_fcurves(rig: RigMapping, take: Take) -> dict[str, list[bpy.types.FCurve]]:
    """The take's main F-curves by parameter name, over every mesh of the rig."""
    result: dict[str, list[bpy.types.FCurve]] = {}
    for mesh, container in _main_containers(rig, take):
        by_path = {fc.data_path: fc for fc in container.fcurves}
        for name, (path, _group) in channel_paths(rig, mesh).items():
            fcurve = by_path.get(path)
            if fcurve is not None:
                result.setdefault(name, []).append(fcurve)
    return result


def _require(take: Take) -> Track:
    track = take.track
    if track is None:
        raise EditError("This take has no keyframe list (it was imported, not generated).")
    return track


def _store(scene, take: Take, track: Track) -> None:
    """Keep the edited track on the take, and its markers in step with it."""
    before = take.markers(scene_fps(scene))
    take.store_track(track)
    show_markers(scene, before, take.markers(scene_fps(scene)))


def _check_edit(track: Track, index: int, description: str) -> None:
    if not 0 <= index < len(track.keyframes):
        raise EditError(f"No keyframe {index + 1} in this take.")
    if not description.strip():
        raise EditError("The description is empty.")


def solve_keyframe(track: Track, index: int, description: str, backend="builtin"):
    """Solve keyframe ``index`` of ``track`` from ``description`` (no bpy: may run on a worker
    thread). Returns the solved keyframe."""
    _check_edit(track, index, description)
    descriptions = [k.description for k in track.keyframes]
    descriptions[index] = description
    return get_backend(backend).solve(descriptions, index, track.context, track.emotion)


def vary_keyframe(track: Track, index: int, attempt: int, backend="builtin"):
    """A fresh variation of keyframe ``index``: the same line planned with another seed, its
    nearest keyframe of the same label solved in place. ``(description, solved)``; no bpy."""
    backend = get_backend(backend)
    request = GenerateRequest(script=track.script, context=track.context, emotion=track.emotion,
                              seed=track.seed + 1000 * attempt + index + 1, fps=track.fps, intensity=track.intensity).validated()
    # A take timed by its recording is planned on the same clock, so the variation lands in sync.
    plan = backend.plan(with_alignment(request, track.audio))
    wanted = track.keyframes[index]
    same_label = [k for k in plan.keyframes if k.label == wanted.label] or plan.keyframes
    chosen = min(same_label, key=lambda k: abs(k.time - wanted.time))
    return chosen.description, solve_keyframe(track, index, chosen.description, backend)


def resolve_keyframe(scene, rig: RigMapping, take: Take, index: int, description: str, backend="builtin") -> int:
    """Solve keyframe ``index`` from ``description`` and rewrite the take's keys at its frame.
    Returns how many curves changed."""
    track = _require(take)
    return apply_keyframe(scene, rig, take, index, description, solve_keyframe(track, index, description, backend))


def apply_keyframe(scene, rig: RigMapping, take: Take, index: int, description: str, solved) -> int:
    """Write a solved keyframe into the take: only the keys at its frame change. Returns how
    many curves changed."""
    track = _require(take)
    _check_edit(track, index, description)
    keyframe = track.keyframes[index]
    keyframe.description = description
    keyframe.weights = dict(solved.weights)
    keyframe.pose = dict(solved.pose)
    fps = scene_fps(scene)
    frame = take.keyframe_frame(track, index, fps)
    base = composed_keys(track, fps, layers="base")
    curves = _main_fcurves(rig, take)
    local = frame - take.start_frame
    changed = 0
    for name, fcurves in curves.items():
        frames, values, _ = key_arrays(base.get(name, (np.array([local]), np.array([0.0]))))
        value = float(np.interp(local, frames, values))
        for fcurve in fcurves:
            point = fcurve.keyframe_points.insert(frame, value, options={"REPLACE", "FAST"})
            # A key with fitted handles (a channel blinks move) moved with its handles; Auto
            # Clamped ones are recomputed around the new value and never overshoot it.
            point.handle_left_type = point.handle_right_type = "AUTO_CLAMPED"
            fcurve.update()
            changed += 1
    missing = [n for n in base if n not in curves and (n in BLENDSHAPE_INDEX or n in POSE)]
    if missing:
        # A shape the new description uses and the take never keyed: key it at every semantic
        # keyframe so it rises and falls with the performance.
        _add_curves(rig, take, base, missing)
        changed += len(missing)
    _store(scene, take, track)
    return changed


def _add_curves(rig: RigMapping, take: Take, base, names) -> None:
    for mesh, container in _main_containers(rig, take):
        paths = channel_paths(rig, mesh)
        for name in names:
            if name in paths:
                frames, values, handles = key_arrays(base[name])
                handles = handles.shifted(take.start_frame) if handles is not None else None
                fill_keys(container.fcurves.new(paths[name][0], index=0), frames + take.start_frame, values, handles)


def nudge_keyframe(scene, rig: RigMapping, take: Take, index: int, delta: int) -> int:
    """Move keyframe ``index`` by ``delta`` frames: its keys on every curve, its marker and its
    time. Refuses to pass a neighbouring keyframe. Returns the new frame."""
    track = _require(take)
    fps = scene_fps(scene)
    frame = take.keyframe_frame(track, index, fps)
    target = frame + delta
    neighbours = [take.keyframe_frame(track, i, fps) for i in (index - 1, index + 1) if 0 <= i < len(track.keyframes)]
    if delta == 0 or any((n - frame) * (n - target) <= 0 for n in neighbours):
        raise EditError("A keyframe cannot move onto or past its neighbours.")
    start = take.start_frame
    if target < start:
        raise EditError("A keyframe cannot move before the start of the take.")
    for fcurves in _main_fcurves(rig, take).values():
        for fcurve in fcurves:
            for point in fcurve.keyframe_points:
                if round(point.co[0]) == frame:
                    if any(round(p.co[0]) == target for p in fcurve.keyframe_points):
                        raise EditError(f"Frame {target} already holds a key on {fcurve.data_path}.")
    for fcurves in _main_fcurves(rig, take).values():
        for fcurve in fcurves:
            for point in fcurve.keyframe_points:
                if round(point.co[0]) == frame:
                    point.co[0] += delta
                    point.handle_left[0] += delta
                    point.handle_right[0] += delta
            fcurve.update()
    keyframe = track.keyframes[index]
    keyframe.time = round((target - start) / fps, 4)
    track.duration = max(track.duration, keyframe.time)
    _store(scene, take, track)
    return target


def regenerate_keyframe(scene, rig: RigMapping, take: Take, index: int, attempt: int, backend="builtin") -> str:
    """Replace keyframe ``index`` by a fresh variation; returns its description."""
    description, solved = vary_keyframe(_require(take), index, attempt, backend)
    apply_keyframe(scene, rig, take, index, description, solved)
    return description
