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

    ``x`` must be strictly increasing. Returns ``(left_x, left_y, right_x, right_y)``. ``y`` may
    hold several curves keyed at the same ``x``, one per row (last axis along ``x``): every step
    is elementwise, so each row gets exactly the handles it would get alone.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    if n == 0:
        empty = np.zeros(0)
        return empty, np.zeros(y.shape), empty, np.zeros(y.shape)
    if n == 1:
        return x - 1.0, y.copy(), x + 1.0, y.copy()
    return _handles(x, y, np.array([0]), np.array([n - 1]))


def _handles(x: np.ndarray, y: np.ndarray, first: np.ndarray, last: np.ndarray):
    """Auto Clamped handles of curves laid end to end in ``x`` and ``y`` (each at least two
    keys; ``first`` and ``last`` index each curve's end keys). Each curve's handles are exactly
    those it gets alone: every step is elementwise, ends handled per curve."""
    n = len(x)
    # Neighbours; the first and last keys mirror their only neighbour, as Blender does.
    prev_x = np.empty(n)
    next_x = np.empty(n)
    prev_y = np.empty(y.shape)
    next_y = np.empty(y.shape)
    prev_x[1:], prev_y[..., 1:] = x[:-1], y[..., :-1]
    next_x[:-1], next_y[..., :-1] = x[1:], y[..., 1:]
    prev_x[first], prev_y[..., first] = 2 * x[first] - x[first + 1], 2 * y[..., first] - y[..., first + 1]
    next_x[last], next_y[..., last] = 2 * x[last] - x[last - 1], 2 * y[..., last] - y[..., last - 1]

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
    interior = np.ones(n, dtype=bool)
    interior[first] = interior[last] = False
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
        # Keys without a violation keep their values: np.where picks them unchanged.
        h1_x = left_x - x
        h2_x = x - right_x
        safe_h1 = np.where(h1_x == 0.0, 1.0, h1_x)
        safe_h2 = np.where(h2_x == 0.0, 1.0, h2_x)
        right_y = np.where(left_violate, y + ((y - left_y) / safe_h1) * h2_x, right_y)
        left_y = np.where(~left_violate & right_violate, y + ((y - right_y) / safe_h2) * h1_x, left_y)

    # First and last keys: flat handles (constant extrapolation).
    for end in (first, last):
        left_y[..., end] = right_y[..., end] = y[..., end]
    return left_x, left_y, right_x, right_y


def evaluate(x, y, t) -> np.ndarray:
    """Value of the Auto Clamped Bezier F-curve through keys ``(x, y)`` at times ``t``.

    Constant extrapolation before the first and after the last key, as Blender does.
    """
    return evaluate_many(x, [y], t)[0]


def evaluate_many(x, ys, t) -> np.ndarray:
    """``evaluate`` for several curves keyed at the same times ``x``: shape (len(ys), len(t)).

    Handle x positions depend on the key times alone, so the Bezier parameter of every sample
    is solved once and shared by all curves (a track's 61 expression channels)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    ys = [np.asarray(y, dtype=np.float64) for y in ys]
    if len(x) == 0:
        return np.zeros((len(ys), len(t)))
    if len(x) == 1:
        return np.array([np.full_like(t, y[0]) for y in ys])
    ys = np.array(ys).reshape(len(ys), len(x))
    # Handle x positions do not depend on the values: one set serves every curve.
    left_x, left_y, right_x, right_y = auto_clamped_handles(x, ys)
    where = _parameter(x, left_x, right_x, t)
    return _value(ys, left_y, right_y, where).reshape(len(ys), len(t))


def evaluate_bezier(x, y, left_x, left_y, right_x, right_y, t) -> np.ndarray:
    """Value at times ``t`` of the Bezier F-curve with keys ``(x, y)`` and the given handles
    (any handle type: Free, Aligned, Vector, Auto), exactly as Blender evaluates it."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if len(x) == 0:
        return np.zeros(len(t))
    if len(x) == 1:
        return np.full(len(t), y[0])
    where = _parameter(x, np.asarray(left_x, dtype=np.float64), np.asarray(right_x, dtype=np.float64), t)
    return _value(y, np.asarray(left_y, dtype=np.float64), np.asarray(right_y, dtype=np.float64), where)


def _parameter(x, left_x, right_x, t, layout=None):
    """Segment, handle correction factor and Bezier parameter of every time in ``t``, and the
    index of its curve's first and last key. ``layout`` (``_Layout``) when ``x`` holds several
    curves end to end and ``t`` their sample times likewise; each curve is solved exactly as
    alone (its own segments, its own Newton iteration count)."""
    if layout is None:
        segment = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2)
        first, last = np.zeros(len(t), dtype=np.int64), np.full(len(t), len(x) - 1)
    else:
        # Complex numbers order by real part, then imaginary: (curve, time) pairs in one search.
        found = np.searchsorted(layout.curve_of_key + 1j * x, layout.curve_of_sample + 1j * t, side="right")
        first = layout.first[layout.curve_of_sample]
        last = layout.last[layout.curve_of_sample]
        segment = np.clip(found - 1 - first, 0, last - first - 1) + first
    x0, x3 = x[segment], x[segment + 1]
    # BKE_fcurve_correct_bezpart: shorten handles that together exceed the segment.
    h1x, h2x = x0 - right_x[segment], x3 - left_x[segment + 1]
    span = x3 - x0
    total = np.abs(h1x) + np.abs(h2x)
    factor = np.where(total > span, span / np.where(total > 0, total, 1.0), 1.0)
    x1, x2 = x0 - factor * h1x, x3 - factor * h2x

    # x(u) is strictly increasing on [0, 1] once handles are corrected (every term of x'(u)
    # is positive), so Newton's method from the linear guess converges in a few steps.
    span = np.where(span > 0, span, 1.0)
    u = np.minimum(np.maximum((t - x0) / span, 0.0), 1.0)
    a = x3 - 3.0 * x2 + 3.0 * x1 - x0
    b = 3.0 * (x2 - 2.0 * x1 + x0)
    c = 3.0 * (x1 - x0)
    moving = None  # samples of curves still iterating (all, for one curve)
    for _ in range(8):
        x_u = ((a * u + b) * u + c) * u + x0
        slope = np.maximum((3.0 * a * u + 2.0 * b) * u + c, 1e-12)
        step = (x_u - t) / slope
        stepped = np.minimum(np.maximum(u - step, 0.0), 1.0)
        u = stepped if moving is None else np.where(moving, stepped, u)
        if layout is None:
            if np.abs(step).max(initial=0.0) < 1e-12:
                break
            continue
        # A curve stops once its own largest step is negligible, as it would alone.
        converged = np.maximum.reduceat(np.abs(step), layout.sample_start) < 1e-12
        still = ~converged if moving is None else moving[layout.sample_start] & ~converged
        if not still.any():
            break
        moving = np.repeat(still, layout.samples)
    return segment, factor, u, t <= x[first], t >= x[last], first, last


def _value(y, left_y, right_y, where):
    """Values at the solved parameters; ``y`` and its handles may hold one curve per row."""
    segment, factor, u, before, after, first, last = where
    y0, y3 = y[..., segment], y[..., segment + 1]
    y1 = y0 - factor * (y0 - right_y[..., segment])
    y2 = y3 - factor * (y3 - left_y[..., segment + 1])
    value = _bezier(y0, y1, y2, y3, u)
    value = np.where(before, y[..., first], value)
    return np.where(after, y[..., last], value)


class _Layout:
    """Several curves laid end to end: each with at least two keys and one sample time."""

    def __init__(self, keys: list[int], samples: list[int]):
        keys, self.samples = np.asarray(keys), np.asarray(samples)
        self.first = np.concatenate([[0], np.cumsum(keys)[:-1]])
        self.last = self.first + keys - 1
        self.sample_start = np.concatenate([[0], np.cumsum(self.samples)[:-1]])
        self.curve_of_key = np.repeat(np.arange(len(keys)), keys).astype(np.float64)
        self.curve_of_sample = np.repeat(np.arange(len(keys)), self.samples)


def evaluate_each(curves) -> list[np.ndarray]:
    """``evaluate(x, y, t)`` for many independent curves ``[(x, y, t), ...]`` at once, each
    result bit-identical to evaluating it alone: one pass of array operations instead of one
    per curve (key reduction evaluates dozens of small curves per line)."""
    results: list = [None] * len(curves)
    batch = []
    for i, (x, y, t) in enumerate(curves):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if len(t) == 0:
            results[i] = np.zeros(0)
        elif len(x) < 2:
            results[i] = evaluate(x, y, t)
        else:
            batch.append((i, x, y, t))
    if len(batch) == 1:
        i, x, y, t = batch[0]
        results[i] = evaluate(x, y, t)
    elif batch:
        layout = _Layout([len(x) for _, x, _, _ in batch], [len(t) for _, _, _, t in batch])
        values = _evaluate_laid_out(np.concatenate([x for _, x, _, _ in batch]),
                                    np.concatenate([y for _, _, y, _ in batch]),
                                    np.concatenate([t for _, _, _, t in batch]), layout)
        for (i, *_), start, count in zip(batch, layout.sample_start, layout.samples):
            results[i] = values[start: start + count]
    return results


def _evaluate_laid_out(x, y, t, layout: "_Layout") -> np.ndarray:
    """Values of curves laid end to end (``_Layout``) at their sample times, laid out likewise."""
    left_x, left_y, right_x, right_y = _handles(x, y, layout.first, layout.last)
    return _value(y, left_y, right_y, _parameter(x, left_x, right_x, t, layout))


def _bezier(p0, p1, p2, p3, u):
    v = 1.0 - u
    return v * v * v * p0 + 3.0 * v * v * u * p1 + 3.0 * v * u * u * p2 + u * u * u * p3


def reduce_keys(times, values, tolerance: float, required=(), polish: bool = False) -> np.ndarray:
    """Indices of the samples to keep as Auto Clamped keys so Blender's curve stays within
    ``tolerance`` of every sample (see ``reduce_curve``)."""
    return reduce_curve(times, values, tolerance, required, polish)[0]


def reduce_curve(times, values, tolerance: float, required=(), polish: bool = False) -> tuple[np.ndarray, float]:
    """Indices of the samples to keep as Auto Clamped keys, and the largest remaining error.

    Starts from the first and last samples, ``required`` indices and the prominent extremes,
    then repeatedly adds, in every span that is still off by more than ``tolerance``, the sample
    with the largest error. Only the samples near new keys are re-evaluated (a key changes the
    handles of its neighbours, so at most two spans either side). Always terminates: with every
    sample kept the curve passes through all of them. With ``polish``, keys that later keys made
    redundant are removed again (``_remove_spare_keys``: about 10% fewer keys, at several times
    the cost; for the artist's curves and captures, not for every generated line).
    """
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    kept, error = reduce_curves([(times, values)], tolerance, required)[0]
    if not polish or len(times) <= 2:
        return kept, error
    keep = np.zeros(len(times), dtype=bool)
    keep[kept] = True
    protected = np.zeros(len(times), dtype=bool)
    protected[[0, len(times) - 1]] = True
    required = np.asarray(list(required), dtype=np.int64)
    if len(required):
        protected[np.clip(required, 0, len(times) - 1)] = True
    return _remove_spare_keys(times, values, keep, protected, tolerance, POLISH_PASSES)


def reduce_curves(curves, tolerance: float, required=()) -> list[tuple[np.ndarray, float]]:
    """``reduce_curve`` (without polish) of many curves ``[(times, values), ...]`` with the same
    ``required`` indices, each curve's keys and error exactly those it gets alone. The curves
    are laid end to end and refined side by side: each round is one pass of array operations
    over all of them (a line has dozens of small curves; one at a time, numpy's per-call cost
    was most of the work)."""
    curves = [(np.asarray(t, dtype=np.float64), np.asarray(v, dtype=np.float64)) for t, v in curves]
    results: list = [(np.arange(len(t)), 0.0) for t, _ in curves]
    long = [i for i, (t, _) in enumerate(curves) if len(t) > 2]
    if not long:
        return results
    counts = np.array([len(curves[i][0]) for i in long])
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    end = start + counts
    times = np.concatenate([curves[i][0] for i in long])
    values = np.concatenate([curves[i][1] for i in long])
    curve_of = np.repeat(np.arange(len(long)), counts)
    keep = _seed_keys(values, start, end, tolerance, np.asarray(list(required), dtype=np.int64))
    error = np.zeros(len(times))
    dirty = np.ones(len(times), dtype=bool)
    active = np.ones(len(long), dtype=bool)
    while True:
        kept = np.flatnonzero(keep)
        check = np.flatnonzero(dirty & ~keep)
        if len(check):
            error[check] = np.abs(_evaluate_checked(times, values, kept, check, curve_of, len(long)) - values[check])
        error[keep] = 0.0
        bad = np.flatnonzero(error > tolerance)
        still = np.zeros(len(long), dtype=bool)
        still[curve_of[bad]] = True
        for c in np.flatnonzero(active & ~still):
            mine = kept[np.searchsorted(kept, start[c]): np.searchsorted(kept, end[c])]
            results[long[c]] = (mine - start[c], float(error[start[c]: end[c]].max(initial=0.0)))
        active = still
        if not active.any():
            return results
        # The worst sample of each span between kept keys, where that span is out of bounds (a
        # curve's end samples are always keys, so no span reaches into another curve).
        span = np.searchsorted(kept, bad, side="right") - 1
        order = np.lexsort((-error[bad], span))
        first_of_span = np.ones(len(order), dtype=bool)
        first_of_span[1:] = span[order][1:] != span[order][:-1]
        new = bad[order[first_of_span]]
        keep[new] = True
        # A new key changes the curve up to its second kept neighbour either side (within its
        # own curve): those samples are evaluated again.
        kept = np.flatnonzero(keep)
        position = np.searchsorted(kept, new)
        owner = curve_of[new]
        low = kept[np.maximum(position - 2, np.searchsorted(kept, start[owner]))]
        high = kept[np.minimum(position + 2, np.searchsorted(kept, end[owner]) - 1)]
        change = np.zeros(len(times) + 1, dtype=np.int64)
        np.add.at(change, low, 1)
        np.add.at(change, high + 1, -1)
        dirty = np.cumsum(change[:-1]) > 0


def _seed_keys(values: np.ndarray, start: np.ndarray, end: np.ndarray, tolerance: float,
               required: np.ndarray) -> np.ndarray:
    """The keys refinement starts from, for curves laid end to end (each from ``start`` to
    ``end``, at least three samples): the ends, ``required`` and the prominent extremes."""
    keep = np.zeros(len(values), dtype=bool)
    inside = np.ones(len(values), dtype=bool)
    keep[start] = keep[end - 1] = True
    inside[start] = inside[end - 1] = False
    # Auto Clamped handles are flat at keys that are extremes, so the real peaks and troughs of
    # the samples are needed as keys anyway: starting from them saves most refinement rounds.
    # Wiggles smaller than the tolerance (capture noise) are not seeded.
    rise = np.diff(values)
    turning = ((rise[:-1] > 0) & (rise[1:] <= 0)) | ((rise[:-1] < 0) & (rise[1:] >= 0))
    extremes = np.flatnonzero(turning & inside[1:-1]) + 1
    if len(extremes):
        # An extreme's neighbours among the ends and extremes are always in its own curve.
        around = np.sort(np.concatenate([start, end - 1, extremes]))
        drop = np.abs(np.diff(values[around]))
        at = np.searchsorted(around, extremes)
        prominence = np.minimum(drop[at - 1], drop[at])
        keep[extremes[prominence > 2.0 * tolerance]] = True
    if len(required):
        keep[(np.clip(required[None, :], 0, (end - start - 1)[:, None]) + start[:, None]).ravel()] = True
    return keep


def _evaluate_checked(times, values, kept, check, curve_of, curves: int) -> np.ndarray:
    """The curves through the ``kept`` samples at the ``check`` samples (both sorted global
    indices of curves laid end to end), only for curves with something to check."""
    checked_curve = curve_of[check]
    with_checks = np.bincount(checked_curve, minlength=curves)
    kept = kept[with_checks[curve_of[kept]] > 0]
    batch = np.flatnonzero(with_checks)
    layout = _Layout(np.bincount(curve_of[kept], minlength=curves)[batch], with_checks[batch])
    return _evaluate_laid_out(times[kept], values[kept], times[check], layout)


# Keys this far apart (in kept-key order) change disjoint parts of the curve when removed.
_INDEPENDENT = 4
# Removal passes after refinement when polishing (about 10% fewer keys); each pass evaluates
# the whole curve four times.
POLISH_PASSES = 3


def _remove_spare_keys(times, values, keep, protected, tolerance: float, passes: int) -> tuple[np.ndarray, float]:
    """Drop keys the refined curve no longer needs (greedy refinement adds keys that later
    neighbours make redundant). Removing a key changes only the spans from its second
    neighbour on the left to its second on the right, so keys four apart are tried together
    with one evaluation of the whole curve; each stays out only where its own spans keep
    within ``tolerance``."""
    keep = keep.copy()
    for _ in range(passes):
        removed_any = False
        for phase in range(_INDEPENDENT):
            kept = np.flatnonzero(keep)
            if len(kept) <= 2:
                break
            order = np.arange(len(kept))
            candidates = order[(order % _INDEPENDENT == phase) & ~protected[kept]]
            if not len(candidates):
                continue
            trial = keep.copy()
            trial[kept[candidates]] = False
            trial_kept = np.flatnonzero(trial)
            error = np.abs(evaluate(times[trial_kept], values[trial_kept], times) - values)
            # Worst error over each candidate's affected samples.
            low = kept[np.maximum(candidates - 2, 0)]
            high = kept[np.minimum(candidates + 2, len(kept) - 1)]
            accepted = _range_max(error, low, high) <= tolerance
            if accepted.any():
                keep[kept[candidates[accepted]]] = False
                removed_any = True
        if not removed_any:
            break
    kept = np.flatnonzero(keep)
    final = np.abs(evaluate(times[kept], values[kept], times) - values)
    return kept, float(final.max(initial=0.0))


def _range_max(values, low, high) -> np.ndarray:
    """``max(values[low[i]:high[i] + 1])`` for many ranges at once (a sparse table)."""
    n = len(values)
    table = [values]
    width = 1
    while width * 2 <= n:
        previous = table[-1]
        table.append(np.maximum(previous[:-width], previous[width:]))
        width *= 2
    length = high - low + 1
    level = np.floor(np.log2(length)).astype(int)
    result = np.empty(len(low))
    for k in np.unique(level):
        rows = level == k
        span = 1 << k
        result[rows] = np.maximum(table[k][low[rows]], table[k][high[rows] - span + 1])
    return result
