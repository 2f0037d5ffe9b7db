import numpy as np

from model_runtime.curves import auto_clamped_handles, evaluate, reduce_keys


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
