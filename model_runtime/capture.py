"""Dense facial capture -> sparse, editable keys.

A Live Link Face take is resampled to the scene's frame rate by time (never "row = frame":
the recording's rate is not the scene's), optionally made relative to a neutral frame, clamped
to the ARKit ranges (real captures exceed 1.0), and reduced per channel to the fewest Bezier
keys with fitted handles that reproduce it within ``max_error`` (``fitting.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arkit import BLENDSHAPE_INDEX, PARAMETERS
from .fitting import FittedCurve, fit_curves
from .formats.llf_csv import Capture
from .limits import check_fps, check_frames

UNUSED = 1e-4


@dataclass
class ReducedCapture:
    keys: dict[str, FittedCurve]
    frames: int
    dense_keys: int
    sparse_keys: int
    max_error: float
    clamped_samples: int

    @property
    def kept_fraction(self) -> float:
        return self.sparse_keys / max(self.dense_keys, 1)


def resample(capture: Capture, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames (from 0) covering the capture at ``fps`` and the values at each, interpolated in
    time; channels the capture lacks are NaN."""
    check_frames(capture.duration, check_fps(fps), "the capture")
    frames = np.arange(0, int(np.floor(capture.duration * fps + 1e-6)) + 1)
    times = frames / fps
    values = np.full((len(frames), len(PARAMETERS)), np.nan)
    for j in range(len(PARAMETERS)):
        column = capture.values[:, j]
        if not np.isnan(column).all():
            values[:, j] = np.interp(times, capture.times, column)
    return frames, values


def reduce_capture(capture: Capture, fps: float, max_error: float = 0.02,
                   neutral_frame: int | None = None) -> ReducedCapture:
    frames, values = resample(capture, fps)
    if neutral_frame is not None:
        neutral = values[min(max(neutral_frame, 0), len(frames) - 1)]
        shapes = np.array([name in BLENDSHAPE_INDEX for name in PARAMETERS])
        values[:, shapes] = values[:, shapes] - neutral[shapes]
    low = np.array([0.0 if name in BLENDSHAPE_INDEX else -1.0 for name in PARAMETERS])
    outside = (values < low) | (values > 1.0)
    clamped = int(np.nansum(outside))
    values = np.clip(values, low, 1.0)
    used = [j for j in range(len(PARAMETERS))
            if not np.isnan(values[:, j]).all() and np.abs(values[:, j]).max() > UNUSED]
    curves = fit_curves(frames, values[:, used].T, max_error)
    keys = {PARAMETERS[j]: curve for j, curve in zip(used, curves)}
    sparse = sum(len(curve) for curve in curves)
    worst = max((curve.max_error for curve in curves), default=0.0)
    return ReducedCapture(keys, len(frames), len(frames) * len(used), sparse, worst, clamped)
