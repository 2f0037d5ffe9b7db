"""Shared fixtures. Tests that touch bpy use one Blender-as-a-module per test session, with
the extension loaded from this checkout through a local extensions repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_ASSETS = Path(os.environ.get("KFF_SHARED_ASSETS", ROOT.parent / "shared" / "assets"))
SHARED_DATA = SHARED_ASSETS.parent / "data"


def shared_file(relative: str) -> Path:
    """A third-party fixture from ../shared, or a skip with the reason when it is absent."""
    path = SHARED_ASSETS / relative
    if not path.exists():
        pytest.skip(f"{relative} not available: ../shared/assets is absent (a user's clone has none)")
    return path


def shared_data(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{relative} not available: ../shared/data is absent")
    return path


@pytest.fixture(scope="session")
def blender():
    """Blender as a module with the extension enabled; returns the extension module loader."""
    bpy = pytest.importorskip("bpy")
    from devtools.blender_env import extension_module, load_extension

    load_extension()
    bpy.ops.wm.read_homefile(use_empty=True)
    return extension_module


@pytest.fixture
def scene(blender):
    """An empty scene at 30 fps (the extension stays enabled)."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 30
    scene.render.fps_base = 1.0
    return scene


@pytest.fixture
def demo_head(scene):
    import bpy

    assert bpy.ops.keyframeface.demo_head() == {"FINISHED"}
    return bpy.context.active_object


def played(obj, frames, name):
    """What Blender plays for shape ``name`` of ``obj`` at ``frames``."""
    import bpy
    import numpy as np

    values = []
    for frame in frames:
        bpy.context.scene.frame_set(int(frame))
        values.append(obj.data.shape_keys.key_blocks[name].value)
    return np.array(values)


def fbx_round_trip(path):
    """Export the selection with the extension's FBX export to ``path``, open it in an empty
    scene (frames kept) and return the imported mesh that has shape keys."""
    import bpy

    assert bpy.ops.keyframeface.export_fbx(filepath=str(path)) == {"FINISHED"}
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0)
    return next(o for o in bpy.context.scene.objects if o.type == "MESH" and o.data.shape_keys)


SPOKEN_SCRIPT = "Maybe Bob will pay me back."


@pytest.fixture(scope="session")
def spoken_line(tmp_path_factory):
    """Real speech for the audio tests: a short line spoken once per session by the scratch
    voice (Piper), with the time of every phone it spoke (the ground truth)."""
    pytest.importorskip("piper", reason="the scratch voice (piper-tts) is not installed")
    from types import SimpleNamespace

    from model_runtime.audio.recording import write_wav
    from model_runtime.audio.voice import speak

    folder = tmp_path_factory.mktemp("voice")
    speech = speak(SPOKEN_SCRIPT, 1.0, cache=folder / "voices")
    path = folder / "line.wav"
    write_wav(path, speech.samples, speech.rate)
    bilabials = [(start + end) / 2 for phone, start, end in speech.phones if phone in "pbm"]
    return SimpleNamespace(script=SPOKEN_SCRIPT, path=path, speech=speech, cache=folder / "voices", bilabials=bilabials)


# The compressed formats a sound strip can hold, as soundfile (libsndfile) writes them.
COMPRESSED_FORMATS = {"flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"), "mp3": ("MP3", "MPEG_LAYER_III")}


def spoken_line_as(spoken_line, folder: Path, extension: str) -> Path:
    """The spoken line written as a real FLAC, OGG Vorbis or MP3 file; skips, saying why, where
    this soundfile cannot write that format."""
    soundfile = pytest.importorskip("soundfile", reason="reading FLAC/OGG/MP3 needs soundfile, not installed here")
    container, subtype = COMPRESSED_FORMATS[extension]
    if container not in soundfile.available_formats() or subtype not in soundfile.available_subtypes(container):
        pytest.skip(f"this libsndfile ({soundfile.__libsndfile_version__}) cannot write {container}/{subtype}")
    path = folder / f"line.{extension}"
    soundfile.write(path, spoken_line.speech.samples, spoken_line.speech.rate, format=container, subtype=subtype)
    return path
