"""Lip sync on its own (model_runtime/lipsync.py): what a viewer checks on a speaking mouth.
Invariants rather than exact numbers, so amplitude can be tuned by delivery and emotion."""

import numpy as np
import pytest

from model_runtime.curves import evaluate
from model_runtime.lipsync import lipsync_channels, phonemes_for, viseme_sequence
from model_runtime.script_timing import time_script

BILABIAL_LINE = "Bob bought a big map, maybe both."


def _value(channels, name, times):
    keys = channels.get(name)
    if not keys:
        return np.zeros(len(times))
    return evaluate(np.array([t for t, _ in keys]), np.array([v for _, v in keys]), np.asarray(times, float))


def _viseme_times(words, viseme):
    return [time for time, name in viseme_sequence(words) if name == viseme]


def test_bilabials_close_the_lips():
    words = time_script(BILABIAL_LINE).words
    channels = lipsync_channels(words)
    closures = _viseme_times(words, "PP")
    assert len(closures) >= 8  # b, b, b, m, m, b (and the p of map)
    assert _value(channels, "jawOpen", closures).max() <= 0.05  # the jaw does not hold the lips apart
    assert _value(channels, "mouthPressLeft", closures).min() > 0.1
    assert _value(channels, "jawOpen", [t for t, v in viseme_sequence(words) if v == "aa"]).max() > 0.15


def test_with_the_jaw_held_open_bilabials_close_with_mouth_close():
    """A gasp or a shout holds the jaw open; the lips still meet on b, m, p."""
    words = time_script(BILABIAL_LINE).words
    held = lipsync_channels(words, expression_jaw=lambda times: np.full(len(times), 0.6))
    relaxed = lipsync_channels(words, expression_jaw=lambda times: np.zeros(len(times)))
    closures = _viseme_times(words, "PP")
    assert _value(held, "mouthClose", closures).min() >= 0.6 - 1e-6
    assert _value(relaxed, "mouthClose", closures).max() < 0.2


@pytest.mark.parametrize("script", [BILABIAL_LINE, "I can't believe you did this to me!",
                                    "Soon, you will see... who knew?", "東京へ行きます", "Hello 世界"])
def test_keys_are_ordered_and_in_range(script):
    timing = time_script(script)
    channels = lipsync_channels(timing.words, energy=1.5)
    assert channels
    for name, keys in channels.items():
        times = [t for t, _ in keys]
        assert all(b > a for a, b in zip(times, times[1:])), name
        assert all(-1.0 <= v <= 1.0 for _, v in keys), name
        assert times[0] >= 0.0 and times[-1] <= timing.duration + 0.5, name


def test_the_mouth_rests_before_after_and_in_long_pauses():
    timing = time_script("Wait. ... Are you there?")
    words = timing.words
    channels = lipsync_channels(words)
    gaps = [(a.end, b.start) for a, b in zip(words, words[1:]) if b.start - a.end > 0.4]
    assert gaps, "the line should have a long pause"
    middle = [(start + end) / 2 for start, end in gaps]
    for name in ("jawOpen", "mouthFunnel", "mouthPucker", "mouthStretchLeft"):
        values = _value(channels, name, [words[0].start - 0.2, *middle, words[-1].end + 0.3])
        assert np.abs(values).max() <= 0.02, name


def test_the_lips_round_ahead_of_a_rounded_vowel():
    words = time_script("soon").words
    events = viseme_sequence(words)
    first_consonant = next(time for time, viseme in events if viseme not in ("sil",))
    assert _value(lipsync_channels(words), "mouthPucker", [first_consonant])[0] > 0.05


def test_more_energy_opens_the_jaw_more():
    words = time_script("Go away, all of you!").words
    quiet = max(v for _, v in lipsync_channels(words, energy=0.5)["jawOpen"])
    loud = max(v for _, v in lipsync_channels(words, energy=1.5)["jawOpen"])
    assert loud > quiet > 0


def test_words_outside_the_dictionary_are_still_spoken():
    assert phonemes_for("Zorblax")  # letter-to-sound rules
    timing = time_script("東京へ行きます")
    jaw = [v for _, v in lipsync_channels(timing.words)["jawOpen"]]
    peaks = sum(1 for a, b, c in zip(jaw, jaw[1:], jaw[2:]) if b > a + 0.1 and b > c + 0.1)
    assert peaks == len(timing.words)  # the mouth opens and closes syllable by syllable
