"""Reading and writing facial animation files on a rig: Live Link Face CSV and KeyframeFace JSON.

Imports become takes like generated performances (the artist's action is kept); exports read
what Blender plays (all layers), by ARKit name through the rig mapping, never by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model_runtime.arkit import BLENDSHAPES, PARAMETERS, POSE, pascal
from ..model_runtime.capture import ReducedCapture, reduce_capture
from ..model_runtime.errors import FormatError
from ..model_runtime.files import atomic_write, read_text
from ..model_runtime.formats.keyframeface_json import read_keyframeface_json, to_keyframeface
from ..model_runtime.formats.llf_csv import read_llf_csv, write_llf_csv
from . import anim_compat
from .rig import RigMapping, find_rig
from .takes import track_of
from .writers.channels import scene_fps
from .writers.new_take import WriteResult, write_take


@dataclass
class CaptureImport:
    reduced: ReducedCapture
    written: WriteResult
    rows: int
    skipped_rows: int
    source_fps: float
    notes: list[str]


def import_llf_csv(scene, obj, path: str, max_error: float = 0.02, swap_mouth_left_right: bool = False,
                   neutral_frame: int | None = None, start_frame: int = 1) -> CaptureImport:
    rig = find_rig(obj)
    capture = read_llf_csv(path, swap_mouth_left_right=swap_mouth_left_right)
    reduced = reduce_capture(capture, scene_fps(scene), max_error, neutral_frame)
    if not reduced.keys:
        raise FormatError(f"{Path(path).name} holds no movement to key (every channel stays at 0).")
    written = write_take(scene, rig, reduced.keys, {}, start_frame, take_name=f"KFF {Path(path).stem}",
                         properties={"keyframeface_capture": Path(path).name})
    return CaptureImport(reduced, written, len(capture.times), capture.skipped_rows, capture.fps, capture.notes)


def played_values(scene, rig: RigMapping, frames) -> np.ndarray:
    """What Blender plays for the 61 parameters at ``frames`` (0 where the rig lacks one)."""
    values = np.zeros((len(frames), len(PARAMETERS)))
    sources = []
    for j, name in enumerate(PARAMETERS):
        mesh = next((m for m in rig.meshes if name in m.shapes), None)
        if mesh is not None:
            sources.append((j, mesh.key.key_blocks[mesh.shapes[name]], None))
        elif rig.primary is not None and name in POSE and name in rig.primary.key:
            sources.append((j, rig.primary.key, name))
    current = scene.frame_current
    for i, frame in enumerate(frames):
        scene.frame_set(int(frame))
        for j, holder, prop in sources:
            values[i, j] = holder[prop] if prop else holder.value
    scene.frame_set(current)
    return values


def export_frame_range(scene, rig: RigMapping) -> tuple[int, int]:
    """The frames the rig's animation covers (take, layers), else the scene range."""
    frames = []
    for mesh in rig.meshes:
        for fcurve in anim_compat.fcurves_for(mesh.key):
            if len(fcurve.keyframe_points):
                frames.extend(fcurve.range())
        animation = mesh.key.animation_data
        for track in (animation.nla_tracks if animation else []):
            for strip in track.strips:
                frames.extend((strip.frame_start, strip.frame_end))
    if not frames:
        return scene.frame_start, scene.frame_end
    return int(min(frames)), int(np.ceil(max(frames)))


def export_llf_csv(scene, obj, path: str) -> tuple[int, int]:
    rig = find_rig(obj)
    if not rig.meshes:
        raise FormatError("The selection has no ARKit shape keys to export.")
    start, end = export_frame_range(scene, rig)
    frames = np.arange(start, end + 1)
    values = played_values(scene, rig, frames)
    write_llf_csv(path, (frames - start) / scene_fps(scene), values)
    return start, end


def import_keyframeface_json(scene, obj, path: str, spacing: float = 1.0, start_frame: int = 1) -> WriteResult:
    """Keyframes from KeyframeFace JSON, ``spacing`` seconds apart (the paper's converter uses
    1 s), as a new take. Every keyframe must hold exactly the 61 parameters."""
    keyframes = read_keyframeface_json(read_text(path))
    if not keyframes:
        raise FormatError(f"{Path(path).name} holds no keyframes")
    for index, keyframe in enumerate(keyframes):
        label = keyframe.key or f"keyframe {index + 1}"
        if keyframe.ignored:
            raise FormatError(f"{label} has {len(keyframe.ignored)} unknown name(s): {', '.join(keyframe.ignored[:4])}; "
                              "KeyframeFace JSON holds exactly the 61 ARKit parameters")
        if keyframe.missing:
            raise FormatError(f"{label} lacks {len(keyframe.missing)} of 61 parameters: "
                              f"{', '.join(pascal(n) for n in keyframe.missing[:4])}")
        if keyframe.clamped:
            raise FormatError(f"{label} has values out of range: {', '.join(keyframe.clamped[:4])}")
    fps = scene_fps(scene)
    frames = np.array([round(i * spacing * fps) for i in range(len(keyframes))], dtype=np.int64)
    keys = {}
    for name in PARAMETERS:
        source = "weights" if name in BLENDSHAPES else "pose"
        values = np.array([getattr(k, source)[name] for k in keyframes])
        if np.abs(values).max() > 1e-4:
            keys[name] = (frames, values)
    if not keys:
        raise FormatError(f"{Path(path).name}: every keyframe is neutral")
    return write_take(scene, find_rig(obj), keys, {}, start_frame, take_name=f"KFF {Path(path).stem}",
                      properties={"keyframeface_capture": Path(path).name})


def export_keyframeface_json(scene, obj, path: str) -> int:
    """The semantic keyframes of the active take (generated or imported) as KeyframeFace JSON;
    for a take without a stored track, the played values at its timeline markers."""
    import json

    rig = find_rig(obj)
    if not rig.meshes:
        raise FormatError("The selection has no ARKit shape keys to export.")
    action, _ = anim_compat.current_assignment(rig.primary.key)
    track = track_of(action)
    document = {}
    if track is not None:
        for index, keyframe in enumerate(track.keyframes):
            document.update(to_keyframeface(keyframe.weights, keyframe.pose, index))
    else:
        frames = sorted({m.frame for m in scene.timeline_markers})
        if not frames:
            raise FormatError("The active take has no keyframe list and the scene no markers to sample at.")
        values = played_values(scene, rig, frames)
        for index, row in enumerate(values):
            document.update(to_keyframeface(dict(zip(BLENDSHAPES, row[:52])), dict(zip(POSE, row[52:])), index))
    atomic_write(path, json.dumps(document, indent=1))
    return len(document)
