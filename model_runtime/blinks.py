"""Natural blinks: a layer that closes both lids briefly.

People blink about 15 to 20 times a minute while talking (Bentivoglio et al. 1997), more when
anxious, less when concentrating or angry (the emotion sets ``rate_factor``). Blinks cluster at
phrase boundaries and pauses and are kept away from expressive apexes, where a blink would
hide the eyes at the moment that matters.
"""

from __future__ import annotations

import random

BLINKS_PER_MINUTE = 17.0
CLOSE_TIME = 0.09
OPEN_TIME = 0.17
# No blink this close to an apex keyframe, or to another blink.
APEX_CLEARANCE = 0.3
MIN_INTERVAL = 1.2
FIRST_BLINK = 0.5


def blink_times(duration: float, rate_factor: float, pauses: list[float], apexes: list[float], seed: int) -> list[float]:
    """Start times of blinks over ``duration`` seconds."""
    rng = random.Random(f"blinks:{seed}")
    rate = BLINKS_PER_MINUTE * rate_factor / 60.0
    latest = duration - CLOSE_TIME - OPEN_TIME
    candidates = []
    # Phrase boundaries first: most blinks in speech fall at pauses.
    for pause in pauses:
        if rng.random() < 0.7:
            candidates.append(pause + rng.uniform(-0.05, 0.1))
    t = FIRST_BLINK + rng.expovariate(rate) * 0.6
    while t < latest:
        candidates.append(t)
        t += max(MIN_INTERVAL, rng.expovariate(rate))
    chosen: list[float] = []
    for time in sorted(candidates):
        if time < FIRST_BLINK or time > latest:
            continue
        if any(abs(time - apex) < APEX_CLEARANCE for apex in apexes):
            continue
        if chosen and time - chosen[-1] < MIN_INTERVAL:
            continue
        chosen.append(time)
    return chosen


def blink_channels(times: list[float]) -> dict[str, list[tuple[float, float]]]:
    keys: list[tuple[float, float]] = []
    for start in times:
        keys.extend([(start, 0.0), (start + CLOSE_TIME, 1.0), (start + CLOSE_TIME + OPEN_TIME, 0.0)])
    keys = [(round(t, 4), v) for t, v in keys]
    return {"eyeBlinkLeft": list(keys), "eyeBlinkRight": list(keys)} if keys else {}
