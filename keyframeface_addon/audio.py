"""The line's audio in Blender: which recording times the line (a file, or a sound strip of
the scene), the sound strip that plays it with the animation, and where the scratch voice
writes its takes. Alignment and synthesis live in ``model_runtime.audio``."""

from __future__ import annotations

import os
from pathlib import Path

import bpy

from ..model_runtime.audio.voice import default_cache
from ..model_runtime.errors import InputError
from .preferences import addon_package

AUDIO_SOURCES = (
    ("NONE", "None", "Time the line from its text"),
    ("FILE", "File", "Align the line to a recording on disk; a sound strip plays it with the animation"),
    ("STRIP", "Sound Strip", "Align the line to a sound strip of the scene; the take starts where the strip starts"),
)
VOICE_CHANNEL_NAME = "KeyframeFace Voice"


def all_strips(scene: bpy.types.Scene):
    editor = scene.sequence_editor
    if editor is None:
        return []
    # Blender 5.0 renamed the sequencer's "sequences" to "strips".
    strips = getattr(editor, "strips_all", None)
    return strips if strips is not None else editor.sequences_all


def sound_strips(scene: bpy.types.Scene) -> list:
    return [strip for strip in all_strips(scene) if strip.type == "SOUND"]


def chosen_recording(scene: bpy.types.Scene, settings) -> tuple[str, int | None]:
    """(audio file, the frame its first sample plays or None) the settings ask for; ("", None)
    without audio. Raises ``InputError`` when the file or strip is missing."""
    if settings.audio_source == "FILE":
        if not settings.audio_file.strip():
            raise InputError("Choose the line's recording in Audio > File, or set Audio to None.")
        path = bpy.path.abspath(settings.audio_file)
        if not os.path.isfile(path):
            raise InputError(f"The audio file {path} does not exist.")
        return path, None
    if settings.audio_source == "STRIP":
        strip = next((s for s in sound_strips(scene) if s.name == settings.audio_strip), None)
        if strip is None:
            raise InputError(f"The scene has no sound strip named '{settings.audio_strip}': choose one in Audio > Strip.")
        if strip.sound is None or not strip.sound.filepath:
            raise InputError(f"The sound strip '{strip.name}' has no sound file.")
        if strip.sound.packed_file is not None:
            raise InputError(f"The sound of '{strip.name}' is packed in the .blend: unpack it (File > External Data) "
                             "so KeyframeFace can read it.")
        return bpy.path.abspath(strip.sound.filepath), int(strip.frame_start)
    return "", None


def play_with_animation(scene: bpy.types.Scene, path: str, frame: int) -> str | None:
    """A sound strip playing ``path`` from ``frame`` (reused if one already does), with playback
    synced to the audio. Returns a warning when this Blender cannot hold sound strips."""
    for strip in sound_strips(scene):
        if strip.sound is not None and bpy.path.abspath(strip.sound.filepath) == path and int(strip.frame_start) == frame:
            return None
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    channel = 1 + max((s.channel for s in all_strips(scene)), default=0)
    try:
        strip = strips.new_sound(Path(path).stem, path, min(channel, 128), frame)
    except RuntimeError as error:
        return f"No sound strip for {Path(path).name}: this Blender has no audio support ({error})."
    strip.name = Path(path).stem
    scene.sync_mode = "AUDIO_SYNC"
    return None


def voice_folder() -> Path:
    """Where Speak Line writes its takes: beside the saved .blend (so the sound strip's path
    stays valid), else Blender's temporary folder."""
    if bpy.data.filepath:
        folder = Path(bpy.path.abspath("//keyframeface_voice"))
    else:
        folder = Path(bpy.app.tempdir or os.path.join(os.path.expanduser("~"), ".cache", "keyframeface")) / "voice"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def voice_cache() -> Path:
    """The extension's own folder for the patched voice model (never the installed package)."""
    try:
        return Path(bpy.utils.extension_path_user(addon_package(), path="voices", create=True))
    except (AttributeError, ValueError):  # not running as an extension
        return default_cache()
