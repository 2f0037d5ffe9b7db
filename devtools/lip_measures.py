"""How open the lips are in a performance, read from its composed curves as a Live Link Face
CSV holds them: shared by the voice benchmark and the audio tests."""

from __future__ import annotations

import numpy as np

from model_runtime.arkit import PARAMETERS
from model_runtime.playback import sample

_INDEX = {name: i for i, name in enumerate(PARAMETERS)}
# Below this the lips touch (a bilabial closure); above OPEN the jaw is open for a vowel.
CLOSED = 0.08
OPEN = 0.2


def lip_aperture(values: np.ndarray) -> np.ndarray:
    """Lip opening per frame: the jaw's opening less what mouthClose takes back, plus the lips
    parting on their own (lower lip down, upper lip up, a funnel's rounded opening)."""
    def column(name):
        return values[:, _INDEX[name]]

    jaw = np.maximum(column("jawOpen") - column("mouthClose"), 0.0)
    lips = 0.5 * (column("mouthLowerDownLeft") + column("mouthLowerDownRight")
                  + column("mouthUpperUpLeft") + column("mouthUpperUpRight")) / 2
    return jaw + lips + 0.5 * column("mouthFunnel")


def aperture_at(track, fps: float = 60.0):
    """(frame times, aperture) of ``track`` sampled per frame, as its CSV export holds it."""
    times = np.arange(0, int(round(track.duration * fps)) + 1) / fps
    return times, lip_aperture(sample(track, times))


def closure_around(times: np.ndarray, aperture: np.ndarray, centre: float, reach: float = 0.1):
    """(first, last) frame index of the run of closed frames nearest ``centre`` (within
    ``reach`` seconds), or None when the lips do not close there."""
    shut = aperture < CLOSED
    candidates = np.flatnonzero(shut & (np.abs(times - centre) <= reach))
    if not len(candidates):
        return None
    first = last = candidates[np.argmin(np.abs(times[candidates] - centre))]
    while first > 0 and shut[first - 1]:
        first -= 1
    while last + 1 < len(shut) and shut[last + 1]:
        last += 1
    return first, last
