"""Bilabial closures placed by the sound itself, finer than the aligner can.

The aligner works in 10 ms frames with three frames at least per phone, and a phone next to
a pause may absorb part of it ("Stop! Put": the pause counted into the p). Where the lips
meet and part is audible: the level falls when a vowel closes into p, b or m, and rises at
the release (the burst, the voicing onset). Each aligned bilabial is moved onto the steepest
fall and rise of a fine loudness envelope near its aligned edges. The side of a closure that
borders silence has no sound to go by (a p before a pause is released into silence; the p
after it starts in silence): that side is kept within a closure's usual length of the
audible side.
"""

from __future__ import annotations

import numpy as np

from ..script_timing import Phone
from .alignment import Alignment
from .signal import SILENCE_DB

BILABIALS = ("P", "B", "M")
FINE_HOP = 0.0025
FINE_WINDOW = 0.01
# How far from its aligned edge a closure's fall or release is looked for, and the change in
# level (dB over CHANGE_SPAN) that counts as one.
SEARCH = 0.04
CHANGE_SPAN = 0.02
MIN_CHANGE_DB = 10.0
# No phone is squeezed below this by moving a neighbour's edge.
MIN_PHONE = 0.02
# A closure whose other side is silence lasts at most this long (its audible side decides).
SILENT_SIDE = 0.07
# Silence shorter than this past SILENT_SIDE is left to the closure (it may be its own).
ABSORBED = 0.03


def envelope(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(level, edge level) in dB per FINE_HOP: the plain level, and its mean with the level of
    the first difference (a nasal murmur is quiet above 1 kHz, so an m's edges show there)."""
    hop, size = int(round(rate * FINE_HOP)), int(round(rate * FINE_WINDOW))
    count = max(1, 1 + (len(samples) - 1) // hop)
    levels = []
    for signal in (samples.astype(np.float64), np.diff(samples.astype(np.float64), prepend=0.0)):
        padded = np.pad(signal, (size // 2, size))
        frames = padded[np.arange(size)[None, :] + hop * np.arange(count)[:, None]]
        levels.append(10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12))
    return levels[0], (levels[0] + levels[1]) / 2


def refine_closures(alignment: Alignment, samples: np.ndarray, rate: int) -> Alignment:
    """``alignment`` with its bilabials' edges moved onto the fall and release heard in
    ``samples`` (in place; returned for convenience). Between two bilabials in a row ("jump",
    "rope broke") the lips stay shut: there is no fall or release to hear."""
    plain, edges = envelope(samples, rate)
    phones = [phone for word in alignment.words for phone in word.phones]
    firsts = {id(word.phones[0]) for word in alignment.words if word.phones}
    lasts = {id(word.phones[-1]) for word in alignment.words if word.phones}
    for k, phone in enumerate(phones):
        if phone.phone in BILABIALS:
            before = phones[k - 1] if k else None
            after = phones[k + 1] if k + 1 < len(phones) else None
            _refine(phone, before, after, plain, edges, alignment.duration,
                    id(phone) in firsts, id(phone) in lasts)
    for word in alignment.words:
        if word.phones:
            word.start, word.end = word.phones[0].start, word.phones[-1].end
    return alignment


def _refine(phone: Phone, before: Phone | None, after: Phone | None, plain: np.ndarray, edges: np.ndarray,
            duration: float, word_start: bool, word_end: bool) -> None:
    """Move one bilabial onto its audible fall and release; trim a pause it absorbed."""
    # A neighbour keeps its first (last) half: an edge found beyond it belongs to another sound.
    earliest = 0.0 if before is None else (before.start + before.end) / 2
    latest = duration if after is None else (after.start + after.end) / 2
    release = fall = None
    if after is None or after.phone not in BILABIALS:
        release = _change(edges, plain, phone.end, +1, phone.start + MIN_PHONE, latest)
    end = phone.end if release is None else release
    if before is None or before.phone not in BILABIALS:
        fall = _change(edges, plain, phone.start, -1, earliest, end - MIN_PHONE)
    start = phone.start if fall is None else fall
    # Longer than a closure and silent past one: the phone absorbed a pause, after it when
    # it ends a word or has no release to hear ("Stop! ..."; a rise found then is the next
    # word's onset), else before it ("... Put").
    if end - start > SILENT_SIDE + ABSORBED:
        if (word_end or release is None) and _silent(plain, start + SILENT_SIDE, end):
            end, release = start + SILENT_SIDE, None
        elif (word_start or fall is None) and _silent(plain, start, end - SILENT_SIDE):
            start, fall = end - SILENT_SIDE, None
    # A neighbour follows an edge that was heard; silence trimmed off stays a gap.
    if before is not None and (fall is not None and _touch(before.end, phone.start) or before.end > start):
        before.end = start
    if after is not None and (release is not None and _touch(after.start, phone.end) or after.start < end):
        after.start = end
    phone.start, phone.end = start, end


def _touch(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6


def _silent(level: np.ndarray, start: float, end: float) -> bool:
    """Whether [start, end] (longer than nothing) is mostly silence."""
    first, last = int(round(start / FINE_HOP)), int(round(end / FINE_HOP))
    return last > first and bool(np.median(level[max(0, first):last]) < SILENCE_DB + 6)


def _change(level: np.ndarray, plain: np.ndarray, near: float, sign: int, low: float, high: float) -> float | None:
    """Time of the steepest rise (sign +1) or fall (-1) of ``level`` within SEARCH of ``near``
    and inside [low, high], when it changes MIN_CHANGE_DB at least from or into speech;
    else None."""
    span = int(round(CHANGE_SPAN / FINE_HOP / 2))
    first = max(span, int(np.ceil(max(near - SEARCH, low) / FINE_HOP)))
    last = min(len(level) - span - 1, int(np.floor(min(near + SEARCH, high) / FINE_HOP)))
    if last < first:
        return None
    index = np.arange(first, last + 1)
    change = sign * (level[index + span] - level[index - span])
    best = int(np.argmax(change))
    # The louder side (after a release, before a fall) is speech, not a click in a pause.
    loud = plain[index[best] + sign * 2 * span]
    if change[best] < MIN_CHANGE_DB or loud < SILENCE_DB + 10:
        return None
    return float(index[best] * FINE_HOP)
