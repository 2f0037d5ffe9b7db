"""F-curve maths that matches Blender: Auto Clamped Bezier handles, evaluation, key reduction.

Keys written by KeyframeFace use Blender's Auto Clamped handles (``AUTO_CLAMPED``, constant
extrapolation, no auto-smoothing). Blender computes their handles from the neighbouring keys
(``calchandleNurb_intern`` / ``BKE_fcurve_handles_recalc`` in blenkernel). Reproducing that
here lets the pure-Python side know exactly what Blender will play between sparse keys: the
Live Link Face export samples it, and key reduction measures its error against it.
"""

from __future__ import annotations

import numpy as np

# Blender's auto-handle length constant (see blenkernel curve.cc).
_HANDLE_FACTOR = 2.5614


def auto_clamped_handles(x: np.ndarray, y: np.ndarray):
    """Left and right handle coordinates Blender gives Auto Clamped keys at ``(x, y)``.

    ``x`` must be strictly increasing. Returns ``(left_x, left_y, right_x, right_y)``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    if n == 0:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    if n == 1:
        return x - 1.0, y.copy(), x + 1.0, y.copy()

    # Neighbours; the first and last keys mirror their only neighbour, as Blender does.
    prev_x = np.empty(n)
    prev_y = np.empty(n)
    next_x = np.empty(n)
    next_y = np.empty(n)
    prev_x[1:], prev_y[1:] = x[:-1], y[:-1]
    next_x[:-1], next_y[:-1] = x[1:], y[1:]
    prev_x[0], prev_y[0] = 2 * x[0] - x[1], 2 * y[0] - y[1]
    next_x[-1], next_y[-1] = 2 * x[-1] - x[-2], 2 * y[-1] - y[-2]

    len_a = x - prev_x
    len_b = next_x - x
    len_a = np.where(len_a == 0.0, 1.0, len_a)
    len_b = np.where(len_b == 0.0, 1.0, len_b)
    tvec_x = (next_x - x) / len_b + (x - prev_x) / len_a
    tvec_y = (next_y - y) / len_b + (y - prev_y) / len_a
    length = tvec_x * _HANDLE_FACTOR
    length = np.where(length == 0.0, 1.0, length)
    len_a = np.minimum(len_a, 5.0 * len_b)
    len_b = np.minimum(len_b, 5.0 * len_a)
    scale_a = len_a / length
    scale_b = len_b / length
    left_x = x - tvec_x * scale_a
    left_y = y - tvec_y * scale_a
    right_x = x + tvec_x * scale_b
    right_y = y + tvec_y * scale_b

    # Clamping ("keep horizontal if extrema", handles never beyond the neighbours' values)
    # applies to keys that have both neighbours.
    interior = np.zeros(n, dtype=bool)
    interior[1:-1] = True
    ydiff1 = prev_y - y
    ydiff2 = next_y - y
    extremum = interior & (((ydiff1 <= 0) & (ydiff2 <= 0)) | ((ydiff1 >= 0) & (ydiff2 >= 0)))
    left_y = np.where(extremum, y, left_y)
    right_y = np.where(extremum, y, right_y)

    rising = ydiff1 <= 0
    check = interior & ~extremum
    left_violate = check & np.where(rising, prev_y > left_y, prev_y < left_y)
    left_y = np.where(left_violate, prev_y, left_y)
    right_violate = check & np.where(rising, next_y < right_y, next_y > right_y)
    right_y = np.where(right_violate, next_y, right_y)

    if left_violate.any() or right_violate.any():
        h1_x = left_x - x
        h2_x = x - right_x
        safe_h1 = np.where(h1_x == 0.0, 1.0, h1_x)
        safe_h2 = np.where(h2_x == 0.0, 1.0, h2_x)
        right_y = np.where(left_violate, y + ((y - left_y) / safe_h1) * h2_x, right_y)
        left_y = np.where(~left_violate & right_violate, y + ((y - right_y) / safe_h2) * h1_x, left_y)

    # First and last keys: flat handles (constant extrapolation).
    for end in (0, n - 1):
        left_y[end] = right_y[end] = y[end]
    return left_x, left_y, right_x, right_y


def evaluate(x, y, t) -> np.ndarray:
    """Value of the Auto Clamped Bezier F-curve through keys ``(x, y)`` at times ``t``.

    Constant extrapolation before the first and after the last key, as Blender does.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if len(x) == 0:
        return np.zeros_like(t)
    if len(x) == 1:
        return np.full_like(t, y[0])
    left_x, left_y, right_x, right_y = auto_clamped_handles(x, y)
    segment = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2)

    x0, y0 = x[segment], y[segment]
    x3, y3 = x[segment + 1], y[segment + 1]
    x1, y1 = right_x[segment], right_y[segment]
    x2, y2 = left_x[segment + 1], left_y[segment + 1]

    # BKE_fcurve_correct_bezpart: shorten handles that together exceed the segment.
    h1x, h1y = x0 - x1, y0 - y1
    h2x, h2y = x3 - x2, y3 - y2
    span = x3 - x0
    total = np.abs(h1x) + np.abs(h2x)
    factor = np.where(total > span, span / np.where(total > 0, total, 1.0), 1.0)
    x1, y1 = x0 - factor * h1x, y0 - factor * h1y
    x2, y2 = x3 - factor * h2x, y3 - factor * h2y

    # x(u) is strictly increasing on [0, 1] once handles are corrected (every term of x'(u)
    # is positive), so Newton's method from the linear guess converges in a few steps.
    span = np.where(span > 0, span, 1.0)
    u = np.minimum(np.maximum((t - x0) / span, 0.0), 1.0)
    a = x3 - 3.0 * x2 + 3.0 * x1 - x0
    b = 3.0 * (x2 - 2.0 * x1 + x0)
    c = 3.0 * (x1 - x0)
    for _ in range(6):
        x_u = ((a * u + b) * u + c) * u + x0
        slope = np.maximum((3.0 * a * u + 2.0 * b) * u + c, 1e-12)
        u = np.minimum(np.maximum(u - (x_u - t) / slope, 0.0), 1.0)
    value = _bezier(y0, y1, y2, y3, u)
    value = np.where(t <= x[0], y[0], value)
    value = np.where(t >= x[-1], y[-1], value)
    return value


def _bezier(p0, p1, p2, p3, u):
    v = 1.0 - u
    return v * v * v * p0 + 3.0 * v * v * u * p1 + 3.0 * v * u * u * p2 + u * u * u * p3


def reduce_keys(times, values, tolerance: float, required=()) -> np.ndarray:
    """Indices of the samples to keep as Auto Clamped keys so Blender's curve stays within
    ``tolerance`` of every sample (see ``reduce_curve``)."""
    return reduce_curve(times, values, tolerance, required)[0]


def reduce_curve(times, values, tolerance: float, required=()) -> tuple[np.ndarray, float]:
    """Indices of the samples to keep as Auto Clamped keys, and the largest remaining error.

    Starts from the first and last samples, ``required`` indices and the prominent extremes,
    then repeatedly adds, in every span that is still off by more than ``tolerance``, the sample
    with the largest error. Only the samples near new keys are re-evaluated (a key changes the
    handles of its neighbours, so at most two spans either side). Always terminates: with every
    sample kept the curve passes through all of them.
    """
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n = len(times)
    if n <= 2:
        return np.arange(n), 0.0
    keep = np.zeros(n, dtype=bool)
    keep[[0, n - 1]] = True
    # Auto Clamped handles are flat at keys that are extremes, so the real peaks and troughs of
    # the samples are needed as keys anyway: starting from them saves most refinement rounds.
    # Wiggles smaller than the tolerance (capture noise) are not seeded.
    rise = np.diff(values)
    extremes = np.flatnonzero(((rise[:-1] > 0) & (rise[1:] <= 0)) | ((rise[:-1] < 0) & (rise[1:] >= 0))) + 1
    if len(extremes):
        around = np.concatenate([[0], extremes, [n - 1]])
        drop = np.abs(np.diff(values[around]))
        prominence = np.minimum(drop[:-1], drop[1:])
        keep[extremes[prominence > 2.0 * tolerance]] = True
    required = np.asarray(list(required), dtype=np.int64)
    if len(required):
        keep[np.clip(required, 0, n - 1)] = True
    error = np.zeros(n)
    dirty = np.ones(n, dtype=bool)
    while True:
        kept = np.flatnonzero(keep)
        check = np.flatnonzero(dirty & ~keep)
        if len(check):
            error[check] = np.abs(evaluate(times[kept], values[kept], times[check]) - values[check])
        error[keep] = 0.0
        bad = np.flatnonzero(error > tolerance)
        if not len(bad):
            return kept, float(error.max(initial=0.0))
        # The worst sample of each span between kept keys, where that span is out of bounds.
        span = np.searchsorted(kept, bad, side="right") - 1
        order = np.lexsort((-error[bad], span))
        first_of_span = np.ones(len(order), dtype=bool)
        first_of_span[1:] = span[order][1:] != span[order][:-1]
        new = bad[order[first_of_span]]
        keep[new] = True
        kept = np.flatnonzero(keep)
        position = np.searchsorted(kept, new)
        low = kept[np.maximum(position - 2, 0)]
        high = kept[np.minimum(position + 2, len(kept) - 1)]
        change = np.zeros(n + 1, dtype=np.int64)
        np.add.at(change, low, 1)
        np.add.at(change, high + 1, -1)
        dirty = np.cumsum(change[:-1]) > 0

