"""Measuring a recording with numpy: resampling, the loudness envelope, the pitch track (F0)
and the pauses. All at a 10 ms hop, the frame rate of the aligner."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOP_SECONDS = 0.01
ALIGN_RATE = 16000
# Speech quieter than this (dBFS, RMS over 25 ms) counts as silence; a pause is silence this long.
SILENCE_DB = -45.0
MIN_PAUSE = 0.15


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling: a windowed-sinc low-pass below the lower Nyquist frequency,
    then linear interpolation onto the new grid."""
    if rate == target:
        return samples.astype(np.float32)
    if target < rate:
        cutoff = 0.45 * target / rate
        taps = np.arange(-32, 33)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(len(taps))
        samples = np.convolve(samples, kernel / kernel.sum(), mode="same")
    positions = np.arange(int(len(samples) * target / rate)) * (rate / target)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def _frames(samples: np.ndarray, rate: int, window: float) -> np.ndarray:
    hop = int(round(rate * HOP_SECONDS))
    size = int(round(rate * window))
    count = max(1, 1 + (len(samples) - 1) // hop)
    padded = np.pad(samples, (size // 2, size))
    index = np.arange(size)[None, :] + hop * np.arange(count)[:, None]
    return padded[index]


def loudness_db(samples: np.ndarray, rate: int) -> np.ndarray:
    """RMS level in dBFS per 10 ms frame (25 ms window)."""
    frames = _frames(samples, rate, 0.025)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-6))


def pitch_hz(samples: np.ndarray, rate: int, loudness: np.ndarray | None = None) -> np.ndarray:
    """F0 per 10 ms frame by normalized autocorrelation (70-400 Hz); 0 where unvoiced."""
    frames = _frames(samples, rate, 0.04).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    size = frames.shape[1]
    padded = 1 << (2 * size - 1).bit_length()  # no wrap-around, and a fast FFT length
    spectrum = np.fft.rfft(frames, n=padded, axis=1)
    correlation = np.fft.irfft(np.abs(spectrum) ** 2, n=padded, axis=1)[:, :size]
    energy = np.maximum(correlation[:, :1], 1e-12)
    low, high = int(rate / 400), min(size - 1, int(rate / 70))
    lags = correlation[:, low:high] / energy
    best = np.argmax(lags, axis=1)
    strength = lags[np.arange(len(lags)), best]
    f0 = rate / (best + low)
    if loudness is None:
        loudness = loudness_db(samples, rate)
    voiced = (strength > 0.5) & (loudness[: len(f0)] > SILENCE_DB + 10)
    return np.where(voiced, f0, 0.0)


@dataclass
class Measures:
    """The envelope and pitch of a recording at a 10 ms hop."""

    loudness: np.ndarray
    pitch: np.ndarray

    def at(self, values: np.ndarray, start: float, end: float) -> np.ndarray:
        first = int(start / HOP_SECONDS)
        last = max(first + 1, int(np.ceil(end / HOP_SECONDS)))
        return values[first:last]

    def speech_level(self) -> float:
        """The typical level of the speech (dBFS): the median of the frames above silence."""
        loud = self.loudness[self.loudness > SILENCE_DB]
        return float(np.median(loud)) if len(loud) else SILENCE_DB


def measure(samples: np.ndarray, rate: int) -> Measures:
    loudness = loudness_db(samples, rate)
    return Measures(loudness, pitch_hz(samples, rate, loudness))
