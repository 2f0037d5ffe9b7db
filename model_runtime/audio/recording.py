"""Reading a recording: WAV through the standard library, other formats (FLAC, OGG, MP3)
through ``soundfile`` where it is installed. Everything is checked before anything is used:
a file that is empty, truncated, not audio, too coarse (8-bit) or too long is refused with a
message that says what to do; stereo is mixed down and any rate is resampled later.
"""

from __future__ import annotations

import hashlib
import io
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .signal import resample

# A line of dialogue, not a radio play: longer recordings are cut into lines first.
MAX_SECONDS = 120.0
MIN_SECONDS = 0.2
MIN_RATE, MAX_RATE = 8000, 192000
MAX_BYTES = 64 * 1024 * 1024


class AudioError(InputError):
    """A recording that cannot be used; the message says why and what to do."""


@dataclass
class Recording:
    """Mono samples in [-1, 1] at their own rate, with where they came from."""

    samples: np.ndarray
    rate: int
    name: str
    sha256: str
    _resampled: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate

    def resampled(self, rate: int) -> np.ndarray:
        """The samples at ``rate``, computed once (the aligner and the measures share them)."""
        if rate not in self._resampled:
            self._resampled[rate] = resample(self.samples, self.rate, rate)
        return self._resampled[rate]

    def describe(self) -> dict:
        """What a track records about its audio so a later re-solve keeps the sync."""
        return {"file": self.name, "duration": round(self.duration, 4), "sha256": self.sha256}


def read_recording(source: str | Path | bytes, name: str = "") -> Recording:
    """A recording from a path or the file's bytes; raises ``AudioError``."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        name = name or "audio"
    else:
        path = Path(source)
        name = name or str(source)
        if not path.is_file():
            raise AudioError(f"The audio file {path} does not exist.")
        if path.stat().st_size > MAX_BYTES:
            raise AudioError(f"{path.name} is larger than {MAX_BYTES // (1024 * 1024)} MB: "
                             f"a line's recording is at most {MAX_SECONDS:g} s.")
        data = path.read_bytes()
    label = Path(name).name
    if not data:
        raise AudioError(f"{label} is empty.")
    if len(data) > MAX_BYTES:
        raise AudioError(f"{label} is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        samples, rate = _read_wav(data, label)
    else:
        samples, rate = _read_other(data, label)
    return _checked(samples, rate, label, name, hashlib.sha256(data).hexdigest())


def _read_wav(data: bytes, label: str) -> tuple[np.ndarray, int]:
    try:
        with wave.open(io.BytesIO(data)) as handle:
            channels, width, rate, frames = (handle.getnchannels(), handle.getsampwidth(),
                                             handle.getframerate(), handle.getnframes())
            raw = handle.readframes(frames)
    except (wave.Error, EOFError, RuntimeError, ValueError) as error:  # wave raises a bare RuntimeError on broken chunks
        if "unknown format" in str(error):  # float or compressed WAV: soundfile reads those
            return _read_other(data, label)
        raise AudioError(f"{label} is not a readable WAV file ({error or 'broken chunks'}).") from None
    if width == 1:
        raise AudioError(f"{label} is 8-bit audio, too coarse to align; export it as 16-bit or 24-bit WAV.")
    if len(raw) < frames * channels * width:
        raise AudioError(f"{label} is truncated: its header promises {frames / max(rate, 1):.2f} s, "
                         f"the file holds {len(raw) / max(channels * width * rate, 1):.2f} s. Export it again.")
    if width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        ints = (bytes3[:, 0].astype(np.int32) | (bytes3[:, 1].astype(np.int32) << 8)
                | (bytes3[:, 2].astype(np.int32) << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = ints.astype(np.float32) / float(1 << 23)
    else:
        dtype = {2: np.int16, 4: np.int32}[width]
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float32) / float(np.iinfo(dtype).max)
    return samples.reshape(-1, channels).mean(axis=1), rate


def _read_other(data: bytes, label: str) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError:
        raise AudioError(f"{label} is not a WAV file, and reading FLAC, OGG or MP3 needs the soundfile "
                         "package (pip install soundfile==0.14.0). Or export the line as WAV.") from None
    try:
        info = soundfile.info(io.BytesIO(data))
        if info.subtype in ("PCM_S8", "PCM_U8"):
            raise AudioError(f"{label} is 8-bit audio, too coarse to align; export it as 16-bit or 24-bit.")
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as error:  # soundfile raises its own and RuntimeError for unreadable data
        raise AudioError(f"{label} is not audio KeyframeFace can read (WAV, FLAC, OGG, MP3): {error}") from None
    return samples.mean(axis=1), int(rate)


def _checked(samples: np.ndarray, rate: int, label: str, name: str, digest: str) -> Recording:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"{label} has a sample rate of {rate} Hz; use {MIN_RATE}-{MAX_RATE} Hz.")
    seconds = len(samples) / rate
    if seconds > MAX_SECONDS:
        raise AudioError(f"{label} lasts {seconds / 60:.1f} min; a line's recording is at most {MAX_SECONDS:g} s. "
                         "Cut the recording into lines.")
    if seconds < MIN_SECONDS:
        raise AudioError(f"{label} lasts {seconds:.2f} s: too short for a line of dialogue.")
    samples = np.nan_to_num(samples.astype(np.float32))
    if float(np.max(np.abs(samples))) < 1e-4:
        raise AudioError(f"{label} is silent.")
    return Recording(samples, int(rate), name, digest)


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """16-bit mono WAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
