"""Generate a performance and write it onto a rig: the core the Generate operator calls."""

from __future__ import annotations

from dataclasses import dataclass

import bpy

from ..model_runtime.backends import GenerateRequest, get_backend
from ..model_runtime.track import Track
from .rig import RigMapping, find_rig
from .writer import WriteResult, scene_fps, write_track


@dataclass
class Generation:
    track: Track
    rig: RigMapping
    written: WriteResult


def request_from_settings(settings, fps: float) -> GenerateRequest:
    return GenerateRequest(
        script=settings.script,
        context=settings.context,
        emotion=settings.emotion,
        seed=settings.seed,
        fps=fps,
        intensity=settings.intensity,
    )


def generate_onto(scene: bpy.types.Scene, obj: bpy.types.Object, settings, backend_name: str = "builtin",
                  add_markers: bool = True) -> Generation:
    """Plan, solve and compose with ``backend_name``, then write the keys onto ``obj``'s rig.
    Raises a ``KeyframeFaceError`` with a user-facing message; writes nothing on failure."""
    rig = find_rig(obj)
    request = request_from_settings(settings, scene_fps(scene))
    track = get_backend(backend_name).generate(request)
    written = write_track(scene, rig, track, settings.start_frame,
                          take_name=f"KFF {obj.name} s{settings.seed}", add_markers=add_markers)
    for action in written.actions:
        action["keyframeface_seed"] = settings.seed
    return Generation(track, rig, written)
