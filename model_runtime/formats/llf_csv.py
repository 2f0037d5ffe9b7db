"""Live Link Face CSV (Epic's iPhone app; also NeuroSync and the KeyframeFace converter).

Header: ``Timecode, BlendShapeCount, <52 PascalCase shapes>, HeadYaw ... RightEyeRoll``.
Columns are matched by name, case-insensitively, never by position (Live Link Face's order
swaps JawRight/JawLeft and MouthRight/MouthLeft relative to Apple's). Timecodes are
``HH:MM:SS:FF.fff`` where FF counts timecode frames (usually 60 per second, with a fractional
sub-frame); the sample rate is worked out from the spacing of the rows, not from FF.
Tracking-loss rows (``12:22:06:30.534,0``) are skipped and counted.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arkit import BLENDSHAPES, LIVE_LINK_FACE_COLUMNS, PARAMETERS, POSE, pascal, to_arkit
from ..errors import FormatError
from ..playback import frame_times, sample

TIMECODE_RATES = (24, 25, 30, 48, 50, 60, 120)
MAX_FILE_BYTES = 512 * 1024 * 1024
_TIMECODE = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[:;.](\d+)(?:\.(\d+))?\s*$")
_SWAPPED = {"mouthLeft": "mouthRight", "mouthRight": "mouthLeft", "jawLeft": "jawRight", "jawRight": "jawLeft"}


@dataclass
class Capture:
    """A dense recording: ``values[i, j]`` is parameter ``PARAMETERS[j]`` at ``times[i]``
    seconds from the first row; columns the file lacks are NaN."""

    times: np.ndarray
    values: np.ndarray
    present: list[str]
    fps: float
    skipped_rows: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0]) if len(self.times) else 0.0


def _parse_timecode(text: str) -> tuple[int, int, int, int, float]:
    match = _TIMECODE.match(text)
    if not match:
        raise ValueError(text)
    hours, minutes, seconds, frames = (int(match.group(i)) for i in range(1, 5))
    fraction = float("0." + match.group(5)) if match.group(5) else 0.0
    return hours, minutes, seconds, frames, fraction


def read_llf_csv(source, swap_mouth_left_right: bool = False, max_bytes: int = MAX_FILE_BYTES) -> Capture:
    """Read a Live Link Face CSV from a path or a text stream."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise FormatError(f"cannot read {path}: {error.strerror or error}") from None
        if size > max_bytes:
            raise FormatError(f"{path.name} is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return _read(handle, swap_mouth_left_right, path.name)
    return _read(source, swap_mouth_left_right, "CSV")


def _read(handle, swap: bool, name: str) -> Capture:
    try:
        lines = handle.read().splitlines()
    except UnicodeDecodeError as error:
        raise FormatError(f"{name} is not a text CSV: {error}") from None
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise FormatError(f"{name} is empty")
    try:
        header = next(csv.reader(lines[:1]))
    except csv.Error as error:
        raise FormatError(f"{name} is not a readable CSV: {error}") from None
    body = lines[1:]
    header = [h.strip() for h in header]
    lowered = [h.lower() for h in header]
    if "timecode" not in lowered:
        raise FormatError(f"{name} has no Timecode column; is it a Live Link Face CSV?")
    time_column = lowered.index("timecode")
    count_column = next((i for i, h in enumerate(lowered) if h in ("blendshapecount", "blendshape_count")), None)
    columns: dict[int, int] = {}
    unknown = []
    for i, title in enumerate(header):
        if i in (time_column, count_column) or not title:
            continue
        parameter = to_arkit(title)
        if parameter is None:
            unknown.append(title)
            continue
        if swap and parameter in _SWAPPED:
            parameter = _SWAPPED[parameter]
        columns[i] = PARAMETERS.index(parameter)
    if not columns:
        raise FormatError(f"{name} has no ARKit columns (found: {', '.join(header[:6])}...)")

    width = len(header)
    parsed = _read_standard_rows(body, width, columns) if (time_column, count_column) == (0, 1) else None
    if parsed is None:
        stamps, rows, skipped = _read_rows(csv.reader(body), width, time_column, columns, name)
    else:
        stamps, rows, skipped = parsed
    if not len(rows):
        raise FormatError(f"{name} has a header but no usable rows")
    return _capture(stamps, rows, skipped, columns, unknown)


def _read_standard_rows(lines: list[str], width: int, columns: dict[int, int]):
    """Fast path for the standard layout (Timecode, BlendShapeCount, values...): numbers are
    parsed in bulk. Returns None when a row needs the careful path (quoted or broken cells)."""
    stamps, numeric, skipped = [], [], 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if line.count(",") != width - 1:
            skipped += 1  # tracking loss: "timecode,0"
            continue
        timecode, _count, rest = line.split(",", 2)
        try:
            stamps.append(_parse_timecode(timecode))
        except ValueError:
            return None
        numeric.append(rest)
    if not numeric:
        return [], np.zeros((0, len(PARAMETERS))), skipped
    import warnings

    with warnings.catch_warnings():
        # numpy's text parser is what makes large takes load in well under a second.
        warnings.simplefilter("ignore", DeprecationWarning)
        flat = np.fromstring(",".join(numeric), dtype=np.float64, sep=",")
    if flat.size != len(numeric) * (width - 2):
        return None  # a cell that is not a number: the careful path says which row
    table = flat.reshape(len(numeric), width - 2)
    values = np.full((len(numeric), len(PARAMETERS)), np.nan)
    for column, parameter in columns.items():
        values[:, parameter] = table[:, column - 2]
    used = list(columns.values())
    good = np.isfinite(values[:, used]).all(axis=1)
    skipped += int((~good).sum())
    return [s for s, ok in zip(stamps, good) if ok], values[good], skipped


def _read_rows(reader, width: int, time_column: int, columns: dict[int, int], name: str):
    stamps: list[tuple[int, int, int, int, float]] = []
    rows: list[list[float]] = []
    skipped = 0
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < width:
            skipped += 1  # tracking loss: "timecode,0"
            continue
        try:
            stamp = _parse_timecode(row[time_column])
        except ValueError:
            raise FormatError(f"{name} line {line_number}: bad timecode {row[time_column]!r}") from None
        values = [math.nan] * len(PARAMETERS)
        try:
            for column, parameter in columns.items():
                values[parameter] = float(row[column])
        except ValueError:
            skipped += 1
            continue
        if any(math.isnan(values[p]) or math.isinf(values[p]) for p in columns.values()):
            skipped += 1
            continue
        stamps.append(stamp)
        rows.append(values)
    return stamps, np.array(rows, dtype=np.float64).reshape(len(rows), len(PARAMETERS)), skipped


def _capture(stamps, rows: np.ndarray, skipped: int, columns: dict[int, int], unknown: list[str]) -> Capture:
    rate = _timecode_rate(stamps)
    seconds = np.array([h * 3600 + m * 60 + s + (f + frac) / rate for h, m, s, f, frac in stamps])
    # A take that runs past midnight wraps the timecode.
    seconds = seconds + 86400.0 * np.concatenate([[0], np.cumsum(np.diff(seconds) < -43200)])
    order = np.argsort(seconds, kind="stable")
    seconds = seconds[order]
    values = rows[order]
    times = seconds - seconds[0]
    steps = np.diff(times)
    steps = steps[steps > 0]
    fps = float(1.0 / np.median(steps)) if len(steps) else 0.0
    present = [PARAMETERS[p] for p in sorted(set(columns.values()))]
    notes = []
    if skipped:
        notes.append(f"{skipped} tracking-loss or unreadable rows skipped")
    if unknown:
        notes.append(f"ignored columns: {', '.join(unknown[:8])}")
    missing = [n for n in BLENDSHAPES if n not in present]
    if missing:
        notes.append(f"{len(missing)} ARKit shapes missing from the file (first: {missing[0]})")
    return Capture(times, values, present, fps, skipped, notes)


def _timecode_rate(stamps) -> int:
    """Timecode frames per second: the smallest standard rate above every FF seen, once the
    take crosses a second boundary; Live Link Face's 60 for takes shorter than that."""
    crosses_second = len({s[:3] for s in stamps}) > 1
    max_frame = max(s[3] for s in stamps)
    if not crosses_second:
        return max(60, max_frame + 1)
    return next((r for r in TIMECODE_RATES if r > max_frame), max_frame + 1)


def format_timecode(seconds: float, rate: int = 60) -> str:
    """``HH:MM:SS:FF.fff`` with ``rate`` timecode frames per second."""
    whole = int(math.floor(seconds))
    frames_exact = (seconds - whole) * rate
    frame = int(math.floor(frames_exact + 1e-9))
    fraction = frames_exact - frame
    if frame >= rate:
        frame -= rate
        whole += 1
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{frame:02d}.{int(round(max(fraction, 0.0) * 1000)) % 1000:03d}"


def write_track_llf_csv(destination, track, fps: float = 60.0) -> None:
    """A whole performance (all layers combined) sampled at ``fps`` as Live Link Face CSV."""
    _, times = frame_times(track, fps)
    write_llf_csv(destination, times, sample(track, times))


def write_llf_csv(destination, times, values, start_seconds: float = 0.0) -> None:
    """Write rows of all 61 parameters (``values`` in ``PARAMETERS`` order) at ``times``."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(times), len(PARAMETERS)):
        raise ValueError(f"values must have shape ({len(times)}, {len(PARAMETERS)})")
    if not np.isfinite(values).all():
        raise FormatError("cannot write non-finite values to Live Link Face CSV")
    order = [PARAMETERS.index(name) for name in LIVE_LINK_FACE_COLUMNS] + [PARAMETERS.index(name) for name in POSE]
    header = ["Timecode", "BlendShapeCount"] + [pascal(n) for n in LIVE_LINK_FACE_COLUMNS] + [pascal(n) for n in POSE]
    # One format operation per row (names and numbers never need CSV quoting).
    row_format = "%s," + str(len(PARAMETERS)) + "," + ",".join(["%.6f"] * len(PARAMETERS))
    lines = [",".join(header)]
    lines += [row_format % (format_timecode(start_seconds + t), *row) for t, row in zip(times.tolist(), values[:, order].tolist())]
    text = "\n".join(lines) + "\n"
    if isinstance(destination, (str, Path)):
        Path(destination).write_text(text, encoding="utf-8")
    else:
        destination.write(text)
