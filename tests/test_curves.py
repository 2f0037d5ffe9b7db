import numpy as np

from model_runtime.curves import (auto_clamped_handles, evaluate, evaluate_each, evaluate_many, reduce_curve,
                                  reduce_curves, reduce_keys)


def test_curve_passes_through_keys_and_extrapolates_constant():
    x = np.array([0.0, 10.0, 25.0, 30.0])
    y = np.array([0.2, 0.9, 0.1, 0.4])
    assert np.allclose(evaluate(x, y, x), y)
    assert np.allclose(evaluate(x, y, [-5.0, 100.0]), [0.2, 0.4])


def test_auto_clamped_never_overshoots_the_keys():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = rng.integers(2, 9)
        x = np.cumsum(rng.integers(1, 20, n)).astype(float)
        y = rng.random(n)
        values = evaluate(x, y, np.linspace(x[0], x[-1], 500))
        assert values.min() >= y.min() - 1e-9 and values.max() <= y.max() + 1e-9


def test_extremes_and_ends_have_flat_handles():
    x = np.array([0.0, 10.0, 20.0, 30.0])
    y = np.array([0.0, 1.0, 0.5, 0.7])
    left_x, left_y, right_x, right_y = auto_clamped_handles(x, y)
    assert left_y[1] == right_y[1] == 1.0          # a peak
    assert left_y[0] == right_y[0] == 0.0           # first key
    assert left_y[3] == right_y[3] == 0.7           # last key
    assert left_x[2] < 20.0 < right_x[2]


def test_reduce_keys_meets_its_error_bound():
    t = np.arange(0, 301, dtype=float)
    values = 0.5 + 0.4 * np.sin(t / 17.0) * np.exp(-t / 250.0)
    for tolerance in (0.05, 0.01, 0.002):
        kept = reduce_keys(t, values, tolerance)
        error = np.abs(evaluate(t[kept], values[kept], t) - values).max()
        assert error <= tolerance
        assert len(kept) < len(t) / 4


def test_reduce_keys_keeps_required_indices():
    t = np.arange(0, 50, dtype=float)
    values = np.zeros(50)
    kept = reduce_keys(t, values, 0.01, required=[7, 23])
    assert set(kept) == {0, 7, 23, 49}


def _random_curves(seed: int, count: int):
    """Curves of 1-12 keys, uneven spacing, flat runs and jumps (clamped handles), sampled
    inside and outside their range, some not at all."""
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(count):
        n = int(rng.integers(1, 13))
        x = np.cumsum(rng.choice([0.5, 1.0, 3.0, 17.0], n)) + rng.random()
        y = np.where(rng.random(n) < 0.3, 0.5, rng.random(n) * rng.choice([0.01, 1.0, 5.0]))
        t = np.sort(rng.uniform(x[0] - 2.0, x[-1] + 2.0, int(rng.integers(0, 40))))
        curves.append((x, y, t))
    return curves


def test_many_curves_evaluated_at_once_are_bit_identical_to_each_alone():
    curves = _random_curves(5, 300)
    for (x, y, t), together in zip(curves, evaluate_each(curves)):
        assert np.array_equal(together, evaluate(x, y, t))
    x, _, t = curves[7]
    rows = [y for _, y, _ in _random_curves(6, 40) if len(y) == len(x)] or [np.ones(len(x))]
    assert all(np.array_equal(row, evaluate(x, y, t)) for row, y in zip(evaluate_many(x, rows, t), rows))


def test_many_curves_reduced_together_keep_the_keys_each_gets_alone():
    rng = np.random.default_rng(8)
    frames = np.arange(90)
    curves = [(frames, np.cumsum(rng.normal(0.0, rng.choice([0.001, 0.02, 0.1]), 90))) for _ in range(40)]
    curves += [(frames, np.zeros(90)), (frames[:2], np.ones(2))]
    for (times, values), (kept, error) in zip(curves, reduce_curves(curves, 0.005, required=[10, 45])):
        alone_kept, alone_error = reduce_curve(times, values, 0.005, required=[10, 45])
        assert np.array_equal(kept, alone_kept) and error == alone_error
