"""Blinks on their own (model_runtime/blinks.py): a natural rate that follows the emotion, at
pauses, and never at the moment an expression peaks."""

import statistics

from model_runtime.blinks import CLOSE_TIME, OPEN_TIME, blink_channels, blink_times


def _per_minute(rate_factor, seeds=range(20), duration=60.0):
    return statistics.mean(len(blink_times(duration, rate_factor, [], [], seed)) for seed in seeds) * 60.0 / duration


def test_a_plausible_rate_that_follows_the_emotion():
    calm = _per_minute(1.0)
    assert 10 <= calm <= 24  # people blink about 15-20 times a minute while talking
    assert _per_minute(1.8) > calm * 1.3  # anxious: more often
    assert _per_minute(0.5) < calm * 0.75  # concentrating or angry: less


def test_blinks_keep_off_apexes_and_apart():
    apexes = [1.0 + 1.7 * i for i in range(12)]
    for seed in range(30):
        times = blink_times(22.0, 1.5, [], apexes, seed)
        assert times
        for start in times:
            closed = start + CLOSE_TIME
            assert all(abs(closed - apex) >= 0.25 for apex in apexes), (seed, start)  # eyes open as it peaks
        assert all(b - a >= 0.9 for a, b in zip(times, times[1:]))  # never a flutter
        assert times[0] >= 0.5 and times[-1] + CLOSE_TIME + OPEN_TIME <= 22.0


def test_blinks_gather_at_pauses():
    pauses = [2.0, 4.5, 7.0, 9.5]
    near = total = 0
    for seed in range(30):
        for start in blink_times(11.0, 1.0, pauses, [], seed):
            total += 1
            near += any(0.0 <= start - pause <= 0.1 for pause in pauses)
    assert total and near / total > 0.5


def test_deterministic_for_a_seed():
    assert blink_times(30.0, 1.0, [3.0], [5.0], 7) == blink_times(30.0, 1.0, [3.0], [5.0], 7)
    assert len({tuple(blink_times(30.0, 1.0, [], [], seed)) for seed in range(5)}) > 1


def test_both_lids_close_fully_and_reopen():
    channels = blink_channels([1.0, 3.0])
    assert set(channels) == {"eyeBlinkLeft", "eyeBlinkRight"} and channels["eyeBlinkLeft"] == channels["eyeBlinkRight"]
    keys = channels["eyeBlinkLeft"]
    assert [v for _, v in keys] == [0.0, 1.0, 0.0] * 2
    assert all(b[0] > a[0] for a, b in zip(keys, keys[1:]))
    assert blink_channels([]) == {}
