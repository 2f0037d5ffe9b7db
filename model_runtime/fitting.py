"""Fewest Bezier keys within an error bound: keys on samples, handles fitted per segment.

The one reducer for every dense curve KeyframeFace writes (captures, generated performances,
the artist's curves through Reduce Keys). Each key sits on a sample (its frame and value);
each segment's two handles are solved for the samples it spans (least squares, then a check
of the worst sample), so far fewer keys reach the same error than Auto Clamped handles do.

Guarantees, checked by evaluating the written curve as Blender does (``curves.evaluate_bezier``
on float32-rounded keys and handles, as Blender stores them):

- every sample is within ``tolerance`` of the curve;
- a segment's handles stay between its two keys' values, so the curve never leaves the range
  of the samples (shape weights stay in 0..1) and every peak or trough of the curve is a key an
  artist can grab; a hold between two equal keys is exactly flat;
- the clean peaks of the samples (swings of more than twice the tolerance, rising and falling
  steadily: generated and hand-keyed curves) are keys on their very frame; holds (runs of equal
  samples) start and end on keys; ``required`` samples are keys;
- a key whose two sides can share a slope within the bound gets ALIGNED handles (edits keep
  the curve smooth); the others are FREE (a corner where the motion really turns sharply).

Key placement: the required keys split each curve into pieces (long ones cut into chunks,
the cuts merged back where one segment spans both sides); in each piece the next key is the
farthest sample a segment can reach (doubling, then bisecting its length), which for this
kind of bound needs about the fewest segments of any placement of keys on samples. All
pieces of all channels advance together, a batch of windows per round; large inputs are
split by channel over threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from .curves import evaluate_bezier

# Handles sit at a third of their segment in time, so time maps linearly onto the Bezier
# parameter and a segment is a cubic in time (what Blender plays once handles are that long).
_THIRD = 1.0 / 3.0
# A peak is clean when this many samples on each side move steadily into and out of it.
CLEAN_SIDE = 3
# Pieces longer than this are cut for the batched search; the cuts are merged back after.
CHUNK = 512
# Runs of at least this many equal samples are holds: keys at both ends, a flat curve between.
HOLD_SAMPLES = 4
# Segments are fitted a little inside the bound so float32 storage cannot push a sample over.
_FIT_MARGIN = 0.995
# First trial length of a segment before anything is known about the curve.
_FIRST_GUESS = 16
# Windows whose least-squares fit misses the bound by less than this factor are refitted
# once towards the smallest worst error.
_REFINE_REACH = 1.3
# Inputs this large are fitted on threads, a group of channels each.
_PARALLEL_SAMPLES = 200_000
_MAX_THREADS = 4
# Rounds of the zigzag filter that finds the significant extremes (each halves the rest).
_ZIGZAG_ROUNDS = 64

FREE = "FREE"
ALIGNED = "ALIGNED"


@dataclass
class FittedCurve:
    """Keys and handles of one fitted F-curve (frames in the caller's time unit)."""

    indices: np.ndarray
    x: np.ndarray
    y: np.ndarray
    left_x: np.ndarray
    left_y: np.ndarray
    right_x: np.ndarray
    right_y: np.ndarray
    aligned: np.ndarray
    max_error: float

    def __len__(self) -> int:
        return len(self.x)

    def handle_types(self) -> list[str]:
        return [ALIGNED if a else FREE for a in self.aligned]

    def shifted(self, offset: float) -> "FittedCurve":
        """The same curve ``offset`` frames later."""
        return replace(self, x=self.x + offset, left_x=self.left_x + offset, right_x=self.right_x + offset)

    def evaluate(self, t) -> np.ndarray:
        return evaluate_bezier(self.x, self.y, self.left_x, self.left_y, self.right_x, self.right_y, t)


def fit_curve(times, values, tolerance: float, required=()) -> FittedCurve:
    """The fewest keys on ``values`` (sampled at increasing ``times``) whose fitted Bezier
    curve stays within ``tolerance`` of every sample; ``required`` sample indices are keys."""
    return fit_curves(times, np.asarray(values, dtype=np.float64)[None, :], tolerance, required)[0]


def fit_curves(times, values, tolerance: float, required=()) -> list[FittedCurve]:
    """``fit_curve`` for several channels sampled at the same ``times``: ``values`` has shape
    (channels, samples). Channels are fitted together (one numpy pass serves all)."""
    times = np.asarray(times, dtype=np.float64)
    # One row per channel, contiguous: the fitting gathers from its flat view.
    values = np.ascontiguousarray(np.atleast_2d(np.asarray(values, dtype=np.float64)))
    channels, n = values.shape
    if n == 0:
        raise ValueError("nothing to fit: no samples")
    if n == 1 or channels == 0:
        return [_single_key(times, row) for row in values]
    tolerance = float(tolerance)
    groups = min(_workers(), channels) if values.size >= _PARALLEL_SAMPLES else 1
    if groups == 1:
        return _fit_group(times, values, tolerance, required)
    # Channels are independent and numpy releases the GIL in its loops: groups on threads.
    bounds = np.linspace(0, channels, groups + 1).astype(int)
    with ThreadPoolExecutor(max_workers=groups) as pool:
        parts = pool.map(lambda b: _fit_group(times, values[b[0]:b[1]], tolerance, required), zip(bounds, bounds[1:]))
        return [curve for part in parts for curve in part]


def _workers() -> int:
    return max(1, min(_MAX_THREADS, os.cpu_count() or 1))


def _fit_group(times, values, tolerance: float, required) -> list[FittedCurve]:
    required_mask = _required_keys(values, tolerance, required)
    data = _Samples(times, values)
    segments = _place_keys(data, required_mask, tolerance * _FIT_MARGIN)
    samples = _SegmentSamples(data, segments)
    _align(samples, segments, tolerance * _FIT_MARGIN)
    curves = _build(times, values, segments)
    return _verify(times, values, curves, segments, tolerance)


# --- required keys -------------------------------------------------------------------------

def _required_keys(values: np.ndarray, tolerance: float, required) -> np.ndarray:
    channels, n = values.shape
    mask = np.zeros((channels, n), dtype=bool)
    mask[:, [0, n - 1]] = True
    required = np.asarray(list(required), dtype=np.int64)
    if len(required):
        mask[:, np.clip(required, 0, n - 1)] = True
    for c in range(channels):
        mask[c, _clean_extremes(values[c], 2.0 * tolerance)] = True
        mask[c, _hold_ends(values[c])] = True
    return mask


def _clean_extremes(values: np.ndarray, swing: float) -> np.ndarray:
    """Significant extremes (``_significant_extremes``) that the samples rise into and fall
    out of steadily, bending one way, over ``CLEAN_SIDE`` samples each side: the peaks of clean
    curves (generated, hand-keyed), keyed on their very frame. A noisy crest (a capture) is
    left to the fit, whose curve still peaks on a key (handles never pass their keys' values)
    within the bound of the crest, and fewer keys follow."""
    peaks = _significant_extremes(values, swing)
    n = len(values)
    peaks = peaks[(peaks >= CLEAN_SIDE) & (peaks < n - CLEAN_SIDE)]
    if not len(peaks):
        return peaks
    offsets = np.arange(-CLEAN_SIDE, CLEAN_SIDE)
    steps = np.diff(values)[peaks[:, None] + offsets]  # steps into and out of each peak
    into, out = steps[:, :CLEAN_SIDE], steps[:, CLEAN_SIDE:]
    bend = np.diff(steps, axis=1)  # curvature: one sign all along a clean peak
    top = (into > 0).all(axis=1) & (out < 0).all(axis=1) & (bend <= 0).all(axis=1)
    bottom = (into < 0).all(axis=1) & (out > 0).all(axis=1) & (bend >= 0).all(axis=1)
    return peaks[top | bottom]


def _turning_points(values: np.ndarray) -> np.ndarray:
    """Indices where the samples change direction (first sample of a flat top), with both ends."""
    rise = np.diff(values)
    moving = np.flatnonzero(rise != 0.0)
    if len(moving) < 2:
        return np.array([0, len(values) - 1])
    direction = np.sign(rise[moving])
    turns = moving[1:][direction[1:] != direction[:-1]]
    # A turn is the sample after the last move in the old direction (the start of a flat top).
    before = moving[np.searchsorted(moving, turns) - 1] + 1
    return np.unique(np.concatenate([[0], before, [len(values) - 1]]))


def _significant_extremes(values: np.ndarray, swing: float) -> np.ndarray:
    """Peaks and troughs that rise or fall more than ``swing`` on both sides (a zigzag filter):
    the smallest swings are removed, two points at a time, keeping the more extreme of each."""
    points = _turning_points(values)
    for _ in range(_ZIGZAG_ROUNDS):
        if len(points) <= 2:
            break
        swings = np.abs(np.diff(values[points]))
        # Interior swings only (both their points removable); locally smallest ones, so the
        # removals of one round never touch each other and keep the alternation of peaks.
        k = np.arange(1, len(swings) - 1)
        if not len(k):
            break
        small = (swings[k] < swing) & (swings[k] <= swings[k - 1]) & (swings[k] < swings[k + 1])
        chosen = k[small]
        if not len(chosen):
            break
        keep = np.ones(len(points), dtype=bool)
        keep[chosen] = keep[chosen + 1] = False
        points = points[keep]
    # A small first or last swing: the extreme next to the end is noise around the end value.
    if len(points) > 2 and abs(values[points[1]] - values[points[0]]) < swing:
        points = np.delete(points, 1)
    if len(points) > 2 and abs(values[points[-1]] - values[points[-2]]) < swing:
        points = np.delete(points, -2)
    return points[1:-1]


def _hold_ends(values: np.ndarray) -> np.ndarray:
    """First and last samples of every run of at least ``HOLD_SAMPLES`` equal samples."""
    change = np.flatnonzero(np.diff(values) != 0.0)
    starts = np.concatenate([[0], change + 1])
    ends = np.concatenate([change, [len(values) - 1]])
    long = ends - starts + 1 >= HOLD_SAMPLES
    return np.concatenate([starts[long], ends[long]])


# --- segment fitting -----------------------------------------------------------------------

@dataclass
class _Segments:
    """Fitted segments, sorted by channel then start: sample indices and end tangents
    (``d0``/``d1`` are the value change a tangent makes over the whole segment)."""

    channel: np.ndarray
    start: np.ndarray
    end: np.ndarray
    d0: np.ndarray
    d1: np.ndarray
    aligned_start: np.ndarray = None


class _Samples:
    """The channels being fitted: times, values (float64 rows) and a flat float32 copy that
    the window passes gather from (half the memory traffic; the final check is float64)."""

    def __init__(self, times, values):
        self.times = times
        self.values = values
        self.n = values.shape[1]
        self.flat = values.astype(np.float32).ravel()
        step = np.diff(times)
        self.uniform = bool(len(step)) and bool(np.all(step == step[0]))

    def at(self, channel, index):
        return self.values[channel, index]


class _Basis:
    """The Bezier basis at every sample of a window of every length up to ``longest`` samples
    (uniform sampling: it depends on the length only), flat, a window of length L at
    ``offsets[L]``: what a window's samples gather instead of computing it again each round,
    and the normal equations' sums per length."""

    def __init__(self, longest: int):
        self.longest = longest
        lengths = np.arange(1, longest + 1)
        self.offsets = np.zeros(longest + 2, dtype=np.int64)
        self.offsets[2:] = np.cumsum(lengths + 1)
        per_sample = np.repeat(lengths, lengths + 1)
        u = (np.arange(len(per_sample)) - self.offsets[per_sample]) / per_sample
        v = 1.0 - u
        self.base0 = (u * v * v).astype(np.float32)
        self.base1 = (-u * u * v).astype(np.float32)
        self.hold0 = (v * v * (1.0 + 2.0 * u)).astype(np.float32)  # the straight part's weight of y0
        starts = self.offsets[1:longest + 1]
        self.a00 = np.r_[0.0, np.add.reduceat(self.base0.astype(np.float64) ** 2, starts)]
        self.a01 = np.r_[0.0, np.add.reduceat(self.base0.astype(np.float64) * self.base1, starts)]
        self.a11 = np.r_[0.0, np.add.reduceat(self.base1.astype(np.float64) ** 2, starts)]


_BASIS: list[_Basis] = []  # the one built so far (threads may race to build it: both are right)
# Windows longer than this (never, with chunked pieces) compute their basis instead.
_BASIS_LONGEST = 4096


def _basis(longest: int) -> _Basis | None:
    if longest > _BASIS_LONGEST:
        return None
    built = _BASIS[0] if _BASIS else None
    if built is None or built.longest < longest:
        built = _Basis(max(longest, 3 * CHUNK))  # merged chunk cuts span up to three chunks
        _BASIS[:] = [built]
    return built


def _window_samples(data: _Samples, channel, start, end):
    """Every sample of each window ``start..end`` (inclusive) of ``channel``, flattened:
    (first row of each window, residual after the straight part, the
    two tangent bases, end values, the normal equations' sums per window or None)."""
    counts = end - start + 1
    first = np.cumsum(counts) - counts
    y0, y3 = data.at(channel, start), data.at(channel, end)
    basis = _basis(int((end - start).max())) if data.uniform and len(start) else None
    step = np.arange(counts.sum(), dtype=np.int64)
    samples = data.flat[np.repeat(channel * data.n + start - first, counts) + step]
    if basis is not None:
        lengths = end - start
        rows = np.repeat(basis.offsets[lengths] - first, counts) + step
        base0, base1, hold0 = basis.base0[rows], basis.base1[rows], basis.hold0[rows]
        # The straight part y0 h0 + y3 (1 - h0), h0 + h1 = 1 for the Hermite ends.
        residual = samples - np.repeat(y3.astype(np.float32), counts)
        residual -= np.repeat((y0 - y3).astype(np.float32), counts) * hold0
        normal = (basis.a00[lengths], basis.a01[lengths], basis.a11[lengths])
        return first, residual, base0, base1, y0, y3, normal
    window = np.repeat(np.arange(len(start), dtype=np.int32), counts)
    local = step - first[window]
    t0, t3 = data.times[start], data.times[end]
    u = ((data.times[start[window] + local] - t0[window]) / (t3 - t0)[window]).astype(np.float32)
    v = np.float32(1.0) - u
    uv = u * v
    base0 = uv * v
    base1 = -uv * u
    # Hermite basis of the straight part: v^2 (1 + 2u) y0 + u^2 (3 - 2u) y3.
    straight = (v * v * (np.float32(1.0) + 2.0 * u)) * y0.astype(np.float32)[window]
    straight += (u * u * (np.float32(3.0) - 2.0 * u)) * y3.astype(np.float32)[window]
    return first, samples - straight, base0, base1, y0, y3, None


def _solve_tangents(first, residual, base0, base1, y0, y3, weight=None, normal=None):
    """(Weighted) least-squares end tangents per window (samples from ``first``, contiguous)
    with both handles between the end values (box constraint solved exactly: the optimum is
    inside, or on an edge at its 1-D optimum). ``normal``: the bases' sums per window when
    known (unweighted, uniform)."""
    change = y3 - y0
    ridge = 1e-9  # a whisker of pull towards the straight line settles windows of 2-3 samples
    if weight is not None:
        base0, base1 = base0 * weight, base1 * weight
        residual = residual * weight

    def total(values):
        return np.add.reduceat(values, first, dtype=np.float64)

    if normal is None or weight is not None:
        normal = (total(base0 * base0), total(base0 * base1), total(base1 * base1))
    a00, a01, a11 = normal[0] + ridge, normal[1], normal[2] + ridge
    g0 = total(residual * base0) + ridge * change
    g1 = total(residual * base1) + ridge * change
    low, high = np.minimum(y0, y3), np.maximum(y0, y3)
    lo0, hi0 = 3.0 * (low - y0), 3.0 * (high - y0)
    lo1, hi1 = 3.0 * (y3 - high), 3.0 * (y3 - low)

    def cost(d0, d1):
        return a00 * d0 * d0 + 2.0 * a01 * d0 * d1 + a11 * d1 * d1 - 2.0 * (g0 * d0 + g1 * d1)

    det = a00 * a11 - a01 * a01
    det = np.where(det > 0, det, 1e-300)
    free0 = (g0 * a11 - g1 * a01) / det
    free1 = (g1 * a00 - g0 * a01) / det
    inside = (free0 >= lo0) & (free0 <= hi0) & (free1 >= lo1) & (free1 <= hi1)
    best0, best1 = np.where(inside, free0, 0.0), np.where(inside, free1, 0.0)
    best = np.where(inside, cost(best0, best1), np.inf)
    for fixed0 in (lo0, hi0):
        d1 = np.clip((g1 - a01 * fixed0) / a11, lo1, hi1)
        c = cost(fixed0, d1)
        better = c < best
        best, best0, best1 = np.where(better, c, best), np.where(better, fixed0, best0), np.where(better, d1, best1)
    for fixed1 in (lo1, hi1):
        d0 = np.clip((g0 - a01 * fixed1) / a00, lo0, hi0)
        c = cost(d0, fixed1)
        better = c < best
        best, best0, best1 = np.where(better, c, best), np.where(better, d0, best0), np.where(better, fixed1, best1)
    return best0, best1


def _fit_windows(data: _Samples, channel, start, end, tolerance: float):
    """Fit every window; returns (fits within tolerance, d0, d1).

    Least squares spreads the error; the bound is on the worst sample. Windows that miss it
    by a little are refitted with weights grown where the error is large (Lawson's iteration
    towards the smallest worst error), which lets segments reach further."""
    first, residual, base0, base1, y0, y3, normal = _window_samples(data, channel, start, end)
    d0, d1 = _solve_tangents(first, residual, base0, base1, y0, y3, normal=normal)
    counts = end - start + 1
    error = _errors(residual, base0, base1, d0, d1, counts)
    worst = np.maximum.reduceat(error, first)
    retry = np.flatnonzero((worst > tolerance) & (worst < _REFINE_REACH * tolerance))
    if len(retry):
        # The retried windows' samples, gathered (windows are contiguous runs of samples).
        retry_counts = counts[retry]
        retry_first = np.cumsum(retry_counts) - retry_counts
        rows = np.repeat(first[retry] - retry_first, retry_counts) + np.arange(retry_counts.sum())
        retry_error = error[rows]
        weight = retry_error / np.repeat(np.add.reduceat(retry_error, retry_first, dtype=np.float64), retry_counts)
        weight = np.sqrt(weight + 1e-3).astype(np.float32)
        residual, base0, base1 = residual[rows], base0[rows], base1[rows]
        w0, w1 = _solve_tangents(retry_first, residual, base0, base1, y0[retry], y3[retry], weight)
        new_worst = np.maximum.reduceat(_errors(residual, base0, base1, w0, w1, retry_counts), retry_first)
        better = new_worst < worst[retry]
        rows = retry[better]
        d0[rows], d1[rows], worst[rows] = w0[better], w1[better], new_worst[better]
    return worst <= tolerance, d0, d1


def _errors(residual, base0, base1, d0, d1, counts):
    """|sample - fitted segment| at every sample of windows of ``counts`` samples."""
    error = residual - base0 * np.repeat(d0.astype(np.float32), counts)
    error -= base1 * np.repeat(d1.astype(np.float32), counts)
    return np.abs(error, out=error)


def _place_keys(data: _Samples, required_mask, tolerance: float) -> _Segments:
    """Farthest-reaching segments inside every piece between required keys, all at once
    (long pieces are cut into chunks searched side by side, and the cuts merged back)."""
    piece_channel, piece_key = np.nonzero(required_mask)
    same = piece_channel[1:] == piece_channel[:-1]
    channel, start, end, cut = _chunks(piece_channel[:-1][same], piece_key[:-1][same].astype(np.int64),
                                       piece_key[1:][same].astype(np.int64))
    segments = _farthest_segments(data, channel, start, end, tolerance)
    return _merge_cuts(data, segments, cut, tolerance)


def _chunks(channel, start, end):
    """Pieces cut into chunks of at most ``CHUNK`` samples; also the cut positions
    (channel * samples + index is unique; returned as (channel, index) pairs)."""
    parts = np.maximum(1, -(-(end - start) // CHUNK))
    piece = np.repeat(np.arange(len(start)), parts)
    part = np.arange(parts.sum()) - np.repeat(np.cumsum(parts) - parts, parts)
    length = (end - start)[piece]
    new_start = start[piece] + (length * part) // parts[piece]
    new_end = start[piece] + (length * (part + 1)) // parts[piece]
    cut = part > 0
    return channel[piece], new_start, new_end, (channel[piece][cut], new_start[cut])


def _merge_cuts(data: _Samples, segments: _Segments, cut, tolerance: float) -> _Segments:
    """Drop the keys at chunk cuts where one segment spans both neighbours within the bound
    (twice: a short chunk can put two cuts on one segment)."""
    wanted = cut[0] * data.n + cut[1]
    for _ in range(2):
        keys = segments.channel * data.n + segments.start
        position = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        right = np.unique(position[(keys[position] == wanted) & (position > 0)])
        right = right[~np.isin(right - 1, right)]  # one merge per segment per pass
        if not len(right):
            break
        left = right - 1
        ok, d0, d1 = _fit_windows(data, segments.channel[left], segments.start[left], segments.end[right], tolerance)
        left, right = left[ok], right[ok]
        segments.end[left] = segments.end[right]
        segments.d0[left], segments.d1[left] = d0[ok], d1[ok]
        keep = np.ones(len(segments.start), dtype=bool)
        keep[right] = False
        segments = _Segments(segments.channel[keep], segments.start[keep], segments.end[keep], segments.d0[keep],
                             segments.d1[keep])
        wanted = wanted[~np.isin(wanted, keys[right])]
    return segments


def _next_length(lo, hi, remaining, guess):
    """The next segment length to try: the rest of the piece when it is within twice the last
    segment's length (most pieces are one or two segments), else that length, doubling until
    one does not fit, then bisecting."""
    first = (lo == 1) & (hi == 0) & (remaining <= 2 * guess)
    length = np.where(hi == 0, np.minimum(np.maximum(guess, 2 * lo), remaining), (lo + hi) // 2)
    return np.where(first, remaining, length)


def _farthest_segments(data: _Samples, channel, start, end, tolerance: float) -> _Segments:
    """From the start of every piece, the longest segment that fits, then the next, until the
    piece's end; all pieces advance together, one batch of windows per round."""
    start, end = start.copy(), end.copy()
    feasible = np.ones(len(start), dtype=np.int64)     # longest length known to fit
    infeasible = np.zeros(len(start), dtype=np.int64)  # shortest length known not to (0: none)
    guess = np.full(len(start), _FIRST_GUESS, dtype=np.int64)
    change = data.at(channel, np.minimum(start + 1, end)) - data.at(channel, start)
    fit0, fit1 = change.astype(np.float64), change.astype(np.float64)
    out = {key: [] for key in ("channel", "start", "end", "d0", "d1")}
    active = np.arange(len(start))
    while len(active):
        s, e = start[active], end[active]
        lo, hi = feasible[active], infeasible[active]
        length = _next_length(lo, hi, e - s, guess[active])
        probe = length > lo
        if probe.any():
            rows = active[probe]
            ok, d0, d1 = _fit_windows(data, channel[rows], start[rows], start[rows] + length[probe], tolerance)
            good, bad = rows[ok], rows[~ok]
            feasible[good] = length[probe][ok]
            fit0[good], fit1[good] = d0[ok], d1[ok]
            infeasible[bad] = length[probe][~ok]
        lo, hi = feasible[active], infeasible[active]
        done = (lo == end[active] - start[active]) | ((hi > 0) & (hi - lo <= 1))
        rows = active[done]
        if len(rows):
            out["channel"].append(channel[rows])
            out["start"].append(start[rows].copy())
            out["end"].append(start[rows] + feasible[rows])
            out["d0"].append(fit0[rows].copy())
            out["d1"].append(fit1[rows].copy())
            start[rows] += feasible[rows]
            guess[rows] = np.maximum(feasible[rows], 2)
            feasible[rows], infeasible[rows] = 1, 0
            nxt = np.minimum(start[rows] + 1, end[rows])
            fit0[rows] = fit1[rows] = data.at(channel[rows], nxt) - data.at(channel[rows], start[rows])
        active = active[start[active] < end[active]]
    merged = {key: np.concatenate(parts) if parts else np.zeros(0) for key, parts in out.items()}
    order = np.lexsort((merged["start"], merged["channel"]))
    return _Segments(merged["channel"][order].astype(np.int64), merged["start"][order].astype(np.int64),
                     merged["end"][order].astype(np.int64), merged["d0"][order], merged["d1"][order])


# --- aligning handles ----------------------------------------------------------------------

class _SegmentSamples:
    """The samples of every segment, gathered once for the alignment passes."""

    def __init__(self, data: _Samples, segments: _Segments):
        (self.first, self.residual, self.base0, self.base1, y0, y3, _) = _window_samples(
            data, segments.channel, segments.start, segments.end)
        self.counts = segments.end - segments.start + 1
        self.last = self.first + self.counts - 1
        self.span = data.times[segments.end] - data.times[segments.start]
        low, high = np.minimum(y0, y3), np.maximum(y0, y3)
        self.box0 = (3.0 * (low - y0), 3.0 * (high - y0))
        self.box1 = (3.0 * (y3 - high), 3.0 * (y3 - low))

    def interval(self, segments: _Segments, which: int, tolerance: float):
        """Per segment, the range of its start (``which=0``) or end (1) tangent that keeps
        every sample within ``tolerance`` with the other tangent as it is."""
        if which == 0:
            base, other, tangent, box = self.base0, self.base1, segments.d1, self.box0
        else:
            base, other, tangent, box = self.base1, self.base0, segments.d0, self.box1
        rest = self.residual - other * np.repeat(tangent.astype(np.float32), self.counts)
        # |rest - base * d| <= tol; base is 0 only at the segment's ends, which always fit.
        tolerance = np.float32(tolerance)
        with np.errstate(divide="ignore", invalid="ignore"):
            one, two = (rest - tolerance) / base, (rest + tolerance) / base
        low, high = np.minimum(one, two), np.maximum(one, two)
        low[self.first] = low[self.last] = -np.inf
        high[self.first] = high[self.last] = np.inf
        low = np.maximum(np.maximum.reduceat(low, self.first), box[0])
        high = np.minimum(np.minimum.reduceat(high, self.first), box[1])
        return low, high


def _align(samples: _SegmentSamples, segments: _Segments, tolerance: float) -> None:
    """Give keys one slope on both sides (ALIGNED handles) wherever both segments stay within
    the bound; even and odd keys take turns, since a key's slope changes only its own two
    segments."""
    count = len(segments.start)
    aligned = np.zeros(count, dtype=bool)  # aligned_start[i]: key at segments.start[i]
    inner = np.flatnonzero(np.r_[False, segments.channel[1:] == segments.channel[:-1]])
    for phase in (0, 1):
        right = inner[(np.arange(len(inner)) % 2) == phase]  # segment starting at the key
        if not len(right):
            continue
        left = right - 1
        low_l, high_l = samples.interval(segments, 1, tolerance)
        low_r, high_r = samples.interval(segments, 0, tolerance)
        span_l, span_r = samples.span[left], samples.span[right]
        low = np.maximum(low_l[left] / span_l, low_r[right] / span_r)
        high = np.minimum(high_l[left] / span_l, high_r[right] / span_r)
        wanted = 0.5 * (segments.d1[left] / span_l + segments.d0[right] / span_r)
        possible = low <= high
        slope = np.clip(wanted, low, high)[possible]
        rows_l, rows_r = left[possible], right[possible]
        segments.d1[rows_l] = slope * span_l[possible]
        segments.d0[rows_r] = slope * span_r[possible]
        aligned[rows_r] = True
    segments.aligned_start = aligned


# --- curves, verification ------------------------------------------------------------------

def _build(times, values, segments: _Segments) -> list[FittedCurve]:
    channels, n = values.shape
    curves = []
    bounds = np.searchsorted(segments.channel, np.arange(channels + 1))
    for c in range(channels):
        rows = slice(bounds[c], bounds[c + 1])
        curves.append(_curve(times, values[c], segments.start[rows], segments.end[rows],
                             segments.d0[rows], segments.d1[rows], segments.aligned_start[rows]))
    return curves


def _curve(times, row, start, end, d0, d1, aligned_start) -> FittedCurve:
    """Keys and handles from a channel's segments (float32, as Blender stores them)."""
    indices = np.concatenate([start, end[-1:]])
    x = times[indices]
    y = row[indices]
    span = x[1:] - x[:-1]
    y0, y3 = y[:-1], y[1:]
    low, high = np.minimum(y0, y3), np.maximum(y0, y3)
    right_x = np.empty(len(x))
    right_y = np.empty(len(x))
    left_x = np.empty(len(x))
    left_y = np.empty(len(x))
    right_x[:-1] = x[:-1] + span * _THIRD
    right_y[:-1] = np.clip(y0 + d0 * _THIRD, low, high)
    left_x[1:] = x[1:] - span * _THIRD
    left_y[1:] = np.clip(y3 - d1 * _THIRD, low, high)
    # The outer handles of the end keys play no part (constant extrapolation): flat.
    left_x[0], left_y[0] = x[0] - (span[0] * _THIRD), y[0]
    right_x[-1], right_y[-1] = x[-1] + (span[-1] * _THIRD), y[-1]
    aligned = np.zeros(len(x), dtype=bool)
    aligned[:-1] = aligned_start
    # End keys: a flat outer handle lines up with a flat inner one.
    aligned[0] = right_y[0] == y[0]
    aligned[-1] = left_y[-1] == y[-1]
    stored = [a.astype(np.float32) for a in (x, y, left_x, left_y, right_x, right_y)]
    realigned = _realigned(*stored)
    # A key stays ALIGNED only where Blender's float32 re-alignment keeps both handles inside
    # their segments' value ranges (else a handle at 0 could come back as -1e-6).
    left_low, left_high = np.r_[-np.inf, low], np.r_[np.inf, high]
    right_low, right_high = np.r_[low, -np.inf], np.r_[high, np.inf]
    inside = ((realigned[1] >= left_low.astype(np.float32)) & (realigned[1] <= left_high.astype(np.float32))
              & (realigned[3] >= right_low.astype(np.float32)) & (realigned[3] <= right_high.astype(np.float32)))
    aligned &= inside
    for k in range(4):
        stored[2 + k] = np.where(aligned, realigned[k], stored[2 + k])
    return FittedCurve(indices, *(a.astype(np.float64) for a in stored), aligned, 0.0)


def _realigned(x, y, left_x, left_y, right_x, right_y):
    """Handles of ALIGNED keys as Blender's handle update leaves them (``calchandleNurb_intern``,
    float32, keys selected): the right handle is set along the left one, then the left along it."""
    f32 = np.float32
    length_a = np.sqrt((x - left_x) ** 2 + (y - left_y) ** 2)
    length_b = np.sqrt((right_x - x) ** 2 + (right_y - y) ** 2)
    length_a = np.where(length_a == 0, f32(1.0), length_a)
    length_b = np.where(length_b == 0, f32(1.0), length_b)
    ratio = length_a / length_b
    scale = f32(1.0) / ratio
    eps = f32(1e-5)
    new_right_x = np.where(length_a > eps, x + scale * (x - left_x), right_x)
    new_right_y = np.where(length_a > eps, y + scale * (y - left_y), right_y)
    new_left_x = np.where(length_b > eps, x + ratio * (x - new_right_x), left_x)
    new_left_y = np.where(length_b > eps, y + ratio * (y - new_right_y), left_y)
    return new_left_x, new_left_y, new_right_x, new_right_y


def _single_key(times, row) -> FittedCurve:
    x, y = times[:1].astype(np.float64), np.asarray(row[:1], dtype=np.float64)
    return FittedCurve(np.array([0]), x, y, x - 1.0, y.copy(), x + 1.0, y.copy(), np.array([True]), 0.0)


def _verify(times, values, curves, segments: _Segments, tolerance: float) -> list[FittedCurve]:
    """Evaluate each curve as Blender will and split, at its worst sample, any segment that
    float32 storage pushed over the bound (rare: the fit keeps a margin)."""
    bounds = np.searchsorted(segments.channel, np.arange(len(curves) + 1))
    for c, curve in enumerate(curves):
        rows = slice(bounds[c], bounds[c + 1])
        start, end = segments.start[rows], segments.end[rows]
        d0, d1, aligned = segments.d0[rows], segments.d1[rows], segments.aligned_start[rows]
        while True:
            error = np.abs(curve.evaluate(times) - values[c])
            curve.max_error = float(error.max())
            if curve.max_error <= tolerance:
                break
            start, end, d0, d1, aligned = _split_worst(times, values[c], start, end, d0, d1, aligned, error, tolerance)
            curve = _curve(times, values[c], start, end, d0, d1, aligned)
        curves[c] = curve
    return curves


def _split_worst(times, row, start, end, d0, d1, aligned, error, tolerance: float):
    """Split every segment that breaks the bound at its worst sample and refit the halves;
    the keys they touch get FREE handles."""
    segment = np.clip(np.searchsorted(start, np.arange(len(row)), side="right") - 1, 0, len(start) - 1)
    worst = np.full(len(start), -1)
    over = np.flatnonzero(error > tolerance)
    order = over[np.argsort(error[over])]  # the last write per segment is its worst sample
    worst[segment[order]] = order
    broken = np.flatnonzero((worst > start) & (worst < end))
    if not len(broken):
        raise RuntimeError("curve fitting could not meet its bound")  # a key on every sample fits
    cut_start = np.concatenate([start, worst[broken]])
    cut_end = np.concatenate([end, end[broken]])
    cut_end[broken] = worst[broken]
    order = np.argsort(cut_start, kind="stable")
    new_start, new_end = cut_start[order], cut_end[order]
    refit = np.zeros(len(cut_start), dtype=bool)
    refit[broken] = refit[len(start):] = True
    refit = refit[order]
    new_d0, new_d1 = np.concatenate([d0, d0[broken]])[order], np.concatenate([d1, d1[broken]])[order]
    new_aligned = np.concatenate([aligned, np.zeros(len(broken), dtype=bool)])[order]
    rows = np.flatnonzero(refit)
    _, f0, f1 = _fit_windows(_Samples(times, row[None, :]), np.zeros(len(rows), dtype=np.int64), new_start[rows], new_end[rows],
                             tolerance * _FIT_MARGIN)
    new_d0[rows], new_d1[rows] = f0, f1
    new_aligned[rows] = False
    following = rows + 1
    following = following[following < len(new_aligned)]
    new_aligned[following] = False
    # The neighbours' tangents at the touched keys stay; those keys are now corners.
    return new_start, new_end, new_d0, new_d1, new_aligned
