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
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arkit import BLENDSHAPES, LIVE_LINK_FACE_COLUMNS, PARAMETERS, POSE, pascal, to_arkit
from ..errors import FormatError
from ..files import atomic_write
from ..limits import MAX_DURATION_SECONDS
from ..playback import frame_times, sample

TIMECODE_RATES = (24, 25, 30, 48, 50, 60, 120)
MAX_FILE_BYTES = 512 * 1024 * 1024
_TIMECODE = re.compile(r"^\s*(\d{1,6}):(\d{1,2}):(\d{1,2})[:;.](\d{1,3})(?:\.(\d{1,9}))?\s*$")
# Every line break ``str.splitlines`` knows.
_LINE_END = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
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


def _parse_timecode(text: str) -> tuple[int, int, int, float]:
    """(hours, minutes, seconds, timecode frames with their sub-frame fraction)."""
    match = _TIMECODE.match(text)
    if not match:
        raise ValueError(text)
    hours, minutes, seconds, frames = (int(match.group(i)) for i in range(1, 5))
    fraction = float("0." + match.group(5)) if match.group(5) else 0.0
    return hours, minutes, seconds, frames + fraction


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
        text = handle.read()
    except UnicodeDecodeError as error:
        raise FormatError(f"{name} is not a text CSV: {error}") from None
    header_line, body_text = _split_header(text)
    if header_line is None:
        raise FormatError(f"{name} is empty")
    try:
        header = next(csv.reader([header_line]))
    except csv.Error as error:
        raise FormatError(f"{name} is not a readable CSV: {error}") from None
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
    parsed = None
    if (time_column, count_column) == (0, 1):
        parsed = _read_standard_table(body_text, width, columns)
        if parsed is None:
            parsed = _read_standard_rows(body_text.splitlines(), width, columns)
    if parsed is None:
        parsed = _read_rows(csv.reader(body_text.splitlines()), width, time_column, columns, name)
    return _capture(parsed, columns, unknown, [header[i] for i in sorted(columns)], name)


def _split_header(text: str) -> tuple[str | None, str]:
    """The first non-blank line and the text after it (what ``splitlines`` would give)."""
    position = 0
    while position < len(text):
        match = _LINE_END.search(text, position)
        end, after = (match.start(), match.end()) if match else (len(text), len(text))
        line = text[position:end]
        if line.strip():
            return line, text[after:]
        position = after
    return None, ""


@dataclass
class _Rows:
    """Rows as read: timecodes (hours, minutes, seconds, frames per row), values (NaN where
    a cell is not a number) and what was odd."""

    stamps: np.ndarray
    values: np.ndarray
    short: int = 0  # fewer cells than the header: Live Link Face's tracking-loss rows
    long: int = 0  # more cells than the header (a trailing comma, extra cells): extra cells ignored


def _is_blank(line: str) -> bool:
    return not line.strip(", \t\r")


_COMMA, _NEWLINE, _COLON, _SEMICOLON = (ord(c) for c in ",\n:;")
# Cells parsed at once by the whole-table path (bounds the temporary arrays).
_CELLS_PER_PASS = 1 << 18


def _read_standard_table(text: str, width: int, columns: dict[int, int]) -> _Rows | None:
    """The standard layout read as one table, no Python work per row: the timecode's fields
    (``HH:MM:SS:FF.fff``) and the values are cells between separators (commas, the timecode's
    colons, line ends), found and parsed by numpy over the whole text. Returns None when a
    line is not plain (quotes, spaces, empty cells, extra cells, exponents, another timecode
    form): the row paths read those files and say what is wrong."""
    text = text.replace("\r\n", "\n").rstrip("\n")
    if not text or any(mark in text for mark in ' \t\r"'):
        return None  # blanks or quotes: cells and blank rows need the row paths' care
    try:
        raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    separator_at = np.flatnonzero((raw == _COMMA) | (raw == _NEWLINE) | (raw == _COLON) | (raw == _SEMICOLON))
    separator = raw[separator_at]
    separator[separator == _SEMICOLON] = _COLON
    ends_line = separator == _NEWLINE
    newline = np.flatnonzero(ends_line)  # separator index ending each line but the last
    lines = len(newline) + 1
    line_of = np.cumsum(ends_line) - ends_line
    commas = np.bincount(line_of[separator == _COMMA], minlength=lines)
    colons = np.bincount(line_of[separator == _COLON], minlength=lines)
    if (commas > width - 1).any():
        return None  # extra cells: the row path reads and counts them
    line_length = np.diff(np.r_[-1, separator_at[newline], len(raw)]) - 1
    blank = line_length == commas + colons  # a row of bare commas is no row at all
    full = (commas == width - 1) & ~blank
    first_cell = np.r_[0, newline + 1][full]
    # The timecode: three colons between its four fields, then commas only.
    if (colons[full] != 3).any() or (separator[first_cell[:, None] + np.arange(3)] != _COLON).any():
        return None
    cell_start = np.r_[0, separator_at + 1]
    cell_length = np.r_[separator_at, len(raw)] - cell_start
    cells = first_cell[:, None] + np.arange(width + 3)
    numbers = _parse_cells(raw, cell_start[cells].ravel(), cell_length[cells].ravel())
    if numbers is None:
        return None
    numbers = numbers.reshape(len(cells), width + 3)
    stamps = numbers[:, :4]
    field_length = cell_length[cells[:, :4]]
    unsigned = raw[cell_start[cells[:, :4]]] - np.uint8(ord("0")) <= 9
    whole = stamps[:, :3] == np.floor(stamps[:, :3])
    if not (unsigned.all() and whole.all() and (field_length[:, :3] <= (6, 2, 2)).all() and (stamps[:, 3] < 1000).all()):
        return None  # the row path names the bad timecode
    values = np.full((len(cells), len(PARAMETERS)), np.nan)
    for column, parameter in columns.items():
        values[:, parameter] = numbers[:, column + 3]
    return _Rows(stamps, values, int((~full & ~blank).sum()), 0)


def _parse_cells(raw: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray | None:
    """The numbers in plain decimal cells (``[-+]digits[.digits]``, at most 15 digits) of
    ``raw`` bytes, exactly as ``float`` reads them (the digits as one integer, divided by a
    power of ten: both exact, so the quotient is correctly rounded); None if a cell is not one.
    Cells of one layout (length, point) are read together as a matrix of digits."""
    if not len(start):
        return np.zeros(0)
    if length.min() < 1 or length.max() > 16:
        return None
    numbers = np.empty(len(start))
    zero, point = np.uint8(ord("0")), ord(".")
    padded = np.concatenate([raw, np.zeros(int(length.max()), dtype=np.uint8)])
    for size in np.flatnonzero(np.bincount(length)):
        size = int(size)
        windows = np.lib.stride_tricks.sliding_window_view(padded, size)
        rows = np.flatnonzero(length == size)
        for first in range(0, len(rows), _CELLS_PER_PASS):
            chosen = rows[first:first + _CELLS_PER_PASS]
            block = windows[start[chosen]]
            negative = block[:, 0] == ord("-")
            signed = negative | (block[:, 0] == ord("+"))
            block[signed, 0] = zero  # a sign reads as a leading zero
            value = np.empty(len(block))
            pending = np.arange(len(block))
            while len(pending):
                # The layout of the first row not read yet: cells of a column share it.
                points = np.flatnonzero(block[pending[0]] == point)
                at = int(points[0]) if len(points) else size
                if at < size:
                    same = block[pending, at] == point
                else:
                    same = ~(block[pending] == point).any(axis=1)
                picked = pending[same] if not same.all() else pending
                cells = block[picked] if len(picked) < len(block) else block
                places = np.arange(size - 1, -1, -1)
                if at < size:
                    cells[:, at] = zero
                    places[:at] -= 1
                if places[0] > 14 or size - (at < size) - int(signed[picked].any()) < 1:
                    return None  # more digits than a float holds exactly, or no digit at all
                digits = cells - zero
                if digits.max() > 9:
                    return None
                weight = np.where(np.arange(size) == at, 0.0, 10.0 ** places)
                value[picked] = digits.astype(np.float64) @ weight / 10.0 ** max(size - 1 - at, 0)
                pending = pending[~same]
            numbers[chosen] = np.where(negative, -value, value)
    return numbers


def _read_standard_rows(lines: list[str], width: int, columns: dict[int, int]) -> _Rows | None:
    """Fast path for the standard layout (Timecode, BlendShapeCount, values...): numbers are
    parsed in bulk. Returns None when a row needs the careful path (quoted or broken cells)."""
    stamps, numeric, short, long = [], [], 0, 0
    for line in lines:
        if _is_blank(line):
            continue  # an empty row (",,,") is no row at all
        cells = line.count(",") + 1
        if cells < width:
            short += 1  # tracking loss: "timecode,0"
            continue
        if '"' in line:
            return None
        timecode, _count, rest = line.strip().split(",", 2)
        if cells > width:
            long += 1
            rest = ",".join(rest.split(",")[:width - 2])
        try:
            stamps.append(_parse_timecode(timecode))
        except ValueError:
            return None
        numeric.append(rest)
    if not numeric:
        return _Rows(np.zeros((0, 4)), np.zeros((0, len(PARAMETERS))), short, long)
    with warnings.catch_warnings():
        # numpy's text parser is what makes large takes load in well under a second.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            flat = np.fromstring(",".join(numeric), dtype=np.float64, sep=",")
        except ValueError:
            return None  # numpy 2 refuses an empty cell outright
    if flat.size != len(numeric) * (width - 2):
        return None  # an empty or non-number cell: the careful path reads it as missing
    table = flat.reshape(len(numeric), width - 2)
    values = np.full((len(numeric), len(PARAMETERS)), np.nan)
    for column, parameter in columns.items():
        values[:, parameter] = table[:, column - 2]
    return _Rows(np.array(stamps, dtype=np.float64), values, short, long)


def _cell_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _read_rows(reader, width: int, time_column: int, columns: dict[int, int], name: str) -> _Rows:
    stamps: list[tuple[int, int, int, float]] = []
    rows: list[list[float]] = []
    short = long = 0
    try:
        for line_number, row in enumerate(reader, start=2):
            if all(not cell.strip() for cell in row):
                continue
            if len(row) < width:
                short += 1  # tracking loss: "timecode,0"
                continue
            if len(row) > width:
                long += 1
            try:
                stamp = _parse_timecode(row[time_column])
            except ValueError:
                raise FormatError(f"{name} line {line_number}: bad timecode {row[time_column][:40]!r}") from None
            values = [math.nan] * len(PARAMETERS)
            for column, parameter in columns.items():
                values[parameter] = _cell_number(row[column])
            stamps.append(stamp)
            rows.append(values)
    except csv.Error as error:
        raise FormatError(f"{name} is not a readable CSV: {error}") from None
    return _Rows(np.array(stamps, dtype=np.float64).reshape(len(stamps), 4),
                 np.array(rows, dtype=np.float64).reshape(len(rows), len(PARAMETERS)), short, long)


# A take's clock runs forward: rows may lag by a little (out of order) or jump ahead by a
# tracking loss, but a row further away than this from the rows around it is a timecode glitch,
# and the longest run of rows within these steps is the take.
GLITCH_GAP_SECONDS = 10.0
BACKWARD_TOLERANCE_SECONDS = 0.5
DAY = 86400.0


def _capture(rows: _Rows, columns: dict[int, int], unknown: list[str], titles: list[str], name: str) -> Capture:
    values = rows.values
    notes = []
    # A column with no number in any row is absent, not a reason to drop every row.
    empty = [title for (column, parameter), title in zip(sorted(columns.items()), titles)
             if len(values) and not np.isfinite(values[:, parameter]).any()]
    used = sorted({p for c, p in columns.items() if len(values) and np.isfinite(values[:, p]).any()})
    if empty:
        notes.append(f"columns without numbers treated as missing: {', '.join(empty[:6])}")
    good = np.isfinite(values[:, used]).all(axis=1) if used else np.zeros(len(values), dtype=bool)
    unreadable = int((~good).sum())
    if not good.any():
        raise FormatError(f"{name} has a header but no usable rows: {_why_no_rows(rows, unreadable, empty, used)}")
    stamps = rows.stamps[good]
    values = values[good]
    values[:, [p for p in range(len(PARAMETERS)) if p not in used]] = np.nan

    seconds, glitches = _take_seconds(stamps)
    values = values[glitches == False]  # noqa: E712 (numpy mask)
    order = np.argsort(seconds, kind="stable")
    seconds, values = seconds[order], values[order]
    times = seconds - seconds[0]
    span = float(times[-1]) if len(times) else 0.0
    if span > MAX_DURATION_SECONDS:
        raise FormatError(f"{name} spans {span / 3600:.1f} h; a capture lasts at most {MAX_DURATION_SECONDS / 3600:g} h")
    steps = np.diff(times)
    steps = steps[steps > 0]
    fps = float(1.0 / np.median(steps)) if len(steps) else 0.0
    present = [PARAMETERS[p] for p in used]
    skipped = rows.short + unreadable
    if rows.short:
        notes.append(f"{rows.short} tracking-loss rows (fewer cells than the header) skipped")
    if unreadable:
        notes.append(f"{unreadable} rows with a cell that is not a number skipped")
    if int(glitches.sum()):
        notes.append(f"{int(glitches.sum())} rows with timecodes far from the rest of the take skipped (glitches)")
        skipped += int(glitches.sum())
    if rows.long:
        notes.append(f"{rows.long} rows have more cells than the header; the extra cells were ignored")
    if unknown:
        notes.append(f"ignored columns: {', '.join(unknown[:8])}")
    missing = [n for n in BLENDSHAPES if n not in present]
    if missing:
        notes.append(f"{len(missing)} ARKit shapes missing from the file (first: {missing[0]})")
    return Capture(times, values, present, fps, skipped, notes)


def _why_no_rows(rows: _Rows, unreadable: int, empty: list[str], used: list[int]) -> str:
    if not len(rows.values):
        if rows.short:
            return f"all {rows.short} rows have fewer cells than the header (tracking loss)"
        return "there are no rows below the header"
    if not used:
        return "no ARKit column holds a number"
    return f"each of the {unreadable} rows has an empty cell or one that is not a number"


def _take_seconds(stamps) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of each row on one continuous clock (a take may run past midnight), and which
    rows are glitches: isolated timecodes far from both neighbours, or rows outside the longest
    run of close rows."""
    rate = _timecode_rate(stamps)
    clock = (stamps[:, 0] * 3600 + stamps[:, 1] * 60 + stamps[:, 2] + stamps[:, 3] / rate) % DAY
    glitch = np.zeros(len(clock), dtype=bool)

    def step(a, b):  # the shortest signed step on a 24-hour clock
        return (b - a + DAY / 2) % DAY - DAY / 2

    def normal(a, b):
        difference = step(a, b)
        return (difference >= -BACKWARD_TOLERANCE_SECONDS) & (difference <= GLITCH_GAP_SECONDS)

    if len(clock) >= 3:
        # A row is a glitch when stepping over it is normal but stepping into or out of it is not.
        previous, middle, following = clock[:-2], clock[1:-1], clock[2:]
        odd = ~normal(previous, middle) | ~normal(middle, following)
        glitch[1:-1] = odd & normal(previous, following)
        glitch[0] = not normal(clock[0], clock[1]) and normal(clock[1], clock[2])
        glitch[-1] = not normal(clock[-2], clock[-1]) and normal(clock[-3], clock[-2])
    kept = np.flatnonzero(~glitch)
    steps = step(clock[kept[:-1]], clock[kept[1:]])
    seconds = clock[kept[0]] + np.concatenate([[0.0], np.cumsum(steps)])
    # What is left apart from the take (a run of glitches): keep the longest run of close rows.
    breaks = np.flatnonzero(~normal(clock[kept[:-1]], clock[kept[1:]])) + 1
    runs = np.split(np.arange(len(kept)), breaks)
    longest = max(runs, key=len)
    inside = np.zeros(len(kept), dtype=bool)
    inside[longest] = True
    glitch[kept[~inside]] = True
    return seconds[inside], glitch


def _timecode_rate(stamps) -> int:
    """Timecode frames per second: the smallest standard rate above every FF seen, once the
    take crosses a second boundary; Live Link Face's 60 for takes shorter than that."""
    whole_seconds = stamps[:, 0] * 3600 + stamps[:, 1] * 60 + stamps[:, 2]
    crosses_second = bool((whole_seconds != whole_seconds[0]).any())
    max_frame = int(np.floor(stamps[:, 3].max()))
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
        atomic_write(destination, text)
    else:
        destination.write(text)
