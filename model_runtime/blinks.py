"""Natural blinks: a layer that closes both lids briefly.

People blink about 15 to 20 times a minute while talking (Bentivoglio et al. 1997), more when
anxious, less when concentrating or angry: the emotion sets ``rate_factor``. Blinks are drawn
as a renewal process at that rate, then pulled to a nearby pause (blinks cluster at phrase
boundaries) and pushed off expressive apexes, where a blink would hide the eyes at the moment
that matters.
"""

from __future__ import annotations

import random

BLINKS_PER_MINUTE = 17.0
CLOSE_TIME = 0.09
OPEN_TIME = 0.17
# No blink this close to an apex keyframe, and never two blinks closer than MIN_INTERVAL.
APEX_CLEARANCE = 0.3
MIN_INTERVAL = 1.0
FIRST_BLINK = 0.5
# A blink this close to a pause moves onto it.
PAUSE_PULL = 0.6


def _lid_times(speed: float) -> tuple[float, float]:
    """How long a blink takes to close and to open at ``speed`` (below 1: slower)."""
    return CLOSE_TIME / max(speed, 0.1), OPEN_TIME / max(speed, 0.1)


def blink_times(duration: float, rate_factor: float, pauses: list[float], apexes: list[float], seed: int,
                speed: float = 1.0) -> list[float]:
    """Start times of blinks over ``duration`` seconds (``speed`` as in ``blink_channels``)."""
    rng = random.Random(f"blinks:{seed}")
    mean_interval = 60.0 / (BLINKS_PER_MINUTE * max(rate_factor, 0.1))
    close_time, open_time = _lid_times(speed)
    latest = duration - close_time - open_time
    chosen: list[float] = []
    t = FIRST_BLINK + rng.uniform(0.0, mean_interval * 0.5)
    while t < latest:
        time = t
        near = [p for p in pauses if abs(p - time) <= PAUSE_PULL]
        if near:
            time = min(near, key=lambda p: abs(p - time)) + 0.05
        for apex in sorted(apexes):
            if abs(time + close_time - apex) < APEX_CLEARANCE:
                time = apex + APEX_CLEARANCE
        if FIRST_BLINK <= time <= latest and (not chosen or time - chosen[-1] >= MIN_INTERVAL):
            chosen.append(time)
        # Gamma-distributed intervals (shape 2): regular but not mechanical.
        t = max(time, t) + max(MIN_INTERVAL, rng.gammavariate(2.0, mean_interval / 2.0))
    return chosen


def blink_channels(times: list[float], speed: float = 1.0) -> dict[str, list[tuple[float, float]]]:
    """Blink keys at ``times``; ``speed`` below 1 closes and opens the lids more slowly (a sad
    or tired blink lasts longer: Stern et al. 1994 on drowsy blinks)."""
    close_time, open_time = _lid_times(speed)
    keys: list[tuple[float, float]] = []
    for start in times:
        keys.extend([(start, 0.0), (start + close_time, 1.0), (start + close_time + open_time, 0.0)])
    keys = [(round(t, 4), v) for t, v in keys]
    return {"eyeBlinkLeft": list(keys), "eyeBlinkRight": list(keys)} if keys else {}
