"""Dialogue scenes: many lines -> one continuous performance.

A scene is written as text, one line per row::

    # comments and blank rows are ignored
    ANNA (hurt, turning into anger): I can't believe you did this to me.
    [pause 1.5]
    BEN: I'm sorry. I didn't think.
    [at 240] [id anna_02] ANNA (cold): Get out.

``SPEAKER:`` is optional, ``(emotion)`` after the speaker (a screenplay parenthetical) sets
that line's emotion, and bracketed tags before the text set ``at`` (start frame), ``id`` (the
name a sound strip is matched by), ``duration`` (seconds) and ``context``. A row holding only
``[pause S]`` adds S seconds of silence. The same scene can be a CSV with a header naming the
columns ``id, speaker, script, context, emotion, duration`` (the batch format), and ``start``
(frame) and ``audio`` (the line's recording, relative to the file) optionally.

Lines are placed one after another (a short gap between them), at their ``at`` frame, or on
their sound strip; the character holds and eases between lines instead of snapping to neutral.
Lines of other speakers take their time in the scene while the animated character listens.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from .audio.recording import AudioError
from .audio.sync import with_recording
from .blinks import blink_channels, blink_times
from .errors import InputError
from .limits import check_duration, check_frame_number
from .script_timing import time_script
from .stages import GenerateRequest, check_text
from .track import Keyframe, Layer, Track

CSV_COLUMNS = ("id", "speaker", "script", "context", "emotion", "duration", "audio")
OPTIONAL_CSV_COLUMNS = ("context", "emotion", "duration", "speaker", "id", "start", "audio")
DEFAULT_GAP = 0.3
# Closer than this, the end of one line and the start of the next become one transition key.
MERGE_WINDOW = 0.25
# A silence this long gets blinks of its own.
LISTENING_BLINK_GAP = 1.5
MAX_LINES = 10000
# Lines sent to a remote backend at once.
REMOTE_LINES_IN_FLIGHT = 8

_TAG = re.compile(r"^\[\s*(\w+)\s*[:=]?\s*([^\]]*)\]\s*")
_SPEAKER = re.compile(r"^(?P<speaker>[^\s:()\[\]][^:()\[\]]{0,39}?)\s*(?:\((?P<emotion>[^)]*)\))?\s*:\s+(?P<text>\S.*)$")
_PARENTHETICAL = re.compile(r"^\((?P<emotion>[^)]*)\)\s*(?P<text>\S.*)$")
_TAGS = ("at", "id", "duration", "context", "pause")
_UNCLOSED_TAG = re.compile(r"^\[\s*(\w+)[^\]]*$")
_SPEAKER_ALONE = re.compile(r"^[^\s:()\[\]][^:()\[\]]{0,39}?\s*(?:\([^)]*\))?\s*:$")
# A CSV scene or batch may separate its cells with commas, semicolons (spreadsheets in many
# languages) or tabs; the header row shows which.
CSV_DELIMITERS = (",", ";", "\t")


@dataclass
class DialogueLine:
    script: str
    speaker: str = ""
    context: str = ""
    emotion: str = ""
    id: str = ""
    start_frame: int | None = None
    duration: float | None = None
    pause_before: float = 0.0
    row: int = 0
    # The line's recording as written in the CSV (relative to the CSV's folder): it times the line.
    audio: str = ""


@dataclass
class PlacedLine:
    line: DialogueLine
    start: float
    duration: float
    performed: bool
    track: Track | None = None

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class Scene:
    track: Track
    lines: list[PlacedLine]
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------ parsing

def _seconds(value: str, where: str, name: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise InputError(f"{where}: {name} '{value}' is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0 or seconds > 3600:
        raise InputError(f"{where}: {name} {value} must be between 0 and 3600 seconds")
    return seconds


def _frame(value: str, where: str) -> int:
    return check_frame_number(value, f"{where}: start frame")


def parse_dialogue(text: str) -> list[DialogueLine]:
    """Parse a scene written as rows of text, or as CSV when its first row is a header that
    names a ``script`` column. Raises ``InputError`` naming the row of the first problem."""
    text = (text or "").lstrip("\ufeff")  # a byte-order mark is not part of the first speaker's name
    if not text.strip():
        raise InputError("The dialogue is empty: write one line per row.")
    first = next(row for row in text.splitlines() if row.strip())
    if csv_delimiter(first):
        lines = []
        for row, line, error, _ in iter_csv_lines(io.StringIO(text)):
            if error:
                raise InputError(error)
            lines.append(line)
    else:
        lines = _parse_rows(text)
    if not lines:
        raise InputError("The dialogue has no spoken lines (only comments or pauses).")
    if len(lines) > MAX_LINES:
        raise InputError(f"The dialogue has {len(lines):,} lines; a scene takes at most {MAX_LINES:,}.")
    return lines


def _parse_rows(text: str) -> list[DialogueLine]:
    lines: list[DialogueLine] = []
    pause = 0.0
    for number, raw in enumerate(text.splitlines(), start=1):
        row = raw.strip()
        if not row or row.startswith("#"):
            continue
        where = f"row {number}"
        tags = {}
        while True:
            match = _TAG.match(row)
            if not match:
                break
            name = match.group(1).lower()
            if name not in _TAGS:
                raise InputError(f"{where}: unknown tag [{match.group(1)}]; tags are {', '.join(_TAGS)}")
            tags[name] = match.group(2).strip()
            row = row[match.end():]
        unclosed = _UNCLOSED_TAG.match(row)
        if unclosed:
            raise InputError(f"{where}: the tag [{unclosed.group(1)} has no closing ']'")
        if "pause" in tags:
            if row:
                raise InputError(f"{where}: [pause] stands on a row of its own")
            pause += _seconds(tags["pause"] or "1", where, "pause")
            continue
        speaker = emotion = ""
        match = _SPEAKER.match(row)
        if match and not re.search(r"[.!?,;]", match.group("speaker")):
            speaker, emotion, row = match.group("speaker").strip(), match.group("emotion") or "", match.group("text")
        else:
            match = _PARENTHETICAL.match(row)
            if match:
                emotion, row = match.group("emotion"), match.group("text")
            elif _SPEAKER_ALONE.match(row):
                raise InputError(f"{where}: '{row[:40]}' names a speaker but gives no words to say")
        if not row.strip():
            raise InputError(f"{where}: the line has no words")
        lines.append(DialogueLine(
            script=row.strip(),
            speaker=speaker,
            emotion=emotion.strip(),
            context=tags.get("context", ""),
            id=tags.get("id", ""),
            start_frame=_frame(tags["at"], where) if tags.get("at") else None,
            duration=_seconds(tags["duration"], where, "duration") if tags.get("duration") else None,
            pause_before=pause,
            row=number,
        ))
        pause = 0.0
    _default_ids(lines)
    return lines


def _default_ids(lines: list[DialogueLine]) -> None:
    width = max(2, len(str(len(lines))))
    for index, line in enumerate(lines, start=1):
        if not line.id:
            line.id = f"line{index:0{width}d}"


def csv_delimiter(header_row: str) -> str | None:
    """The delimiter of a dialogue CSV from its header row (the one that makes a ``script``
    column), or None when the row is no such header."""
    for delimiter in CSV_DELIMITERS:
        if "script" in [cell.strip().strip('"').lower() for cell in header_row.split(delimiter)]:
            return delimiter
    return None


_ID = re.compile(r"[\w\-][\w.\- ]{0,119}")


def iter_csv_lines(handle):
    """Read a dialogue CSV: yields ``(row_number, DialogueLine | None, error | None, id)`` so a
    batch can report a bad row (with its id when it has one) and go on. The header is matched
    by name, case-insensitive; cells are separated by commas, semicolons or tabs."""
    first = handle.readline()
    while first and not first.strip():
        first = handle.readline()
    if not first:
        raise InputError("The CSV is empty: it needs a header row with id, speaker, script, context, emotion.")
    reader = csv.reader(itertools.chain([first], handle), delimiter=csv_delimiter(first) or ",")
    try:
        header = next(reader)
    except csv.Error as error:
        raise InputError(f"The CSV header cannot be read: {error}") from None
    names = [cell.strip().lower() for cell in header]
    if "script" not in names:
        raise InputError(f"The CSV header has no 'script' column (it has: {', '.join(names)[:200]}).")
    unknown = [name for name in names if name and name not in CSV_COLUMNS + ("start",)]
    if unknown:
        raise InputError(f"The CSV header has unknown columns: {', '.join(unknown)[:200]}; "
                         f"columns are {', '.join(CSV_COLUMNS)} (and start).")
    column = {name: names.index(name) for name in names if name}
    seen: set[str] = set()
    count = 0
    number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # The reader cannot go on past a broken quote: report where, and stop.
            yield reader.line_num, None, (f"row {number + 1}: {error} (a quote that is never closed?); "
                                          "the rows after it were not read"), ""
            return
        number += 1
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        where = f"row {number}"

        def cell(name: str) -> str:
            index = column.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        line_id = cell("id") or f"line{count:05d}"
        try:
            if len(cells) > len(names):
                raise InputError(f"{where} has {len(cells)} cells but the header names {len(names)} columns")
            check_text(line_id, f"{where}: the id")
            if not _ID.fullmatch(line_id) or line_id.endswith((".", " ")):
                raise InputError(f"{where}: id '{line_id[:40]}' may only hold letters, digits, '.', '-', '_' and "
                                 "spaces, and may not start or end with '.' or a space")
            if line_id in seen:
                raise InputError(f"{where}: id '{line_id}' appears twice")
            script = cell("script")
            if not script:
                raise InputError(f"{where}: the script is empty")
            seen.add(line_id)
            line = DialogueLine(
                script=script,
                speaker=cell("speaker"),
                context=cell("context"),
                emotion=cell("emotion"),
                id=line_id,
                start_frame=_frame(cell("start"), where) if cell("start") else None,
                duration=_seconds(cell("duration"), where, "duration") if cell("duration") else None,
                row=number,
                audio=cell("audio"),
            )
            if line.duration == 0:
                raise InputError(f"{where}: duration must be more than 0 seconds")
        except InputError as error:
            yield number, None, str(error), line_id if _ID.fullmatch(line_id) else ""
            continue
        yield number, line, None, line_id


def speakers_of(lines: list[DialogueLine]) -> list[str]:
    return sorted({line.speaker for line in lines if line.speaker}, key=str.lower)


# ------------------------------------------------------------------------------------ placing

def performs(line: DialogueLine, speaker: str) -> bool:
    """Whether the animated character speaks ``line`` (all lines when no speaker is chosen)."""
    return not speaker or line.speaker.lower() == speaker.lower()


def perform_scene(lines: list[DialogueLine], backend, fps: float, *, speaker: str = "", context: str = "",
                  emotion: str = "", seed: int = 0, intensity: float = 1.0, gap: float = DEFAULT_GAP,
                  sounds: dict[str, tuple] | None = None, origin_frame: int = 0,
                  concurrency: int | None = None, audio_folder: str | Path | None = None) -> Scene:
    """Generate every line the character speaks and place all lines in time.

    ``sounds`` maps a line id (lowercase) to ``(start_seconds, duration_seconds[, audio_file])``
    of its audio: the line starts there and is aligned to the file when one is given (else its
    performance is stretched to the audio). A line's own ``audio`` (the CSV column) is read
    relative to ``audio_folder`` and aligned the same way. ``context`` and
    ``emotion`` are the scene's defaults for lines that give none. ``concurrency``: lines
    generated at once (default: ``REMOTE_LINES_IN_FLIGHT`` for a remote backend, else one).
    """
    if not lines:
        raise InputError("The dialogue has no lines.")
    if not 0 <= gap <= 10:
        raise InputError(f"The gap between lines ({gap:g} s) must be between 0 and 10 s.")
    for line in lines:  # before asking a backend for anything
        if line.start_frame is not None and line.start_frame > origin_frame:
            check_duration((line.start_frame - origin_frame) / fps, f"Line {line.id} ({_where(line)}) starts at frame "
                           f"{line.start_frame}, so the scene's length")
    sounds = {key.lower(): value for key, value in (sounds or {}).items()}
    items = [(index, line) for index, line in enumerate(lines) if performs(line, speaker)]
    if not items:
        known = ", ".join(speakers_of(lines)) or "none"
        raise InputError(f"No line is spoken by '{speaker}'. Speakers in the dialogue: {known}.")

    def request(line: DialogueLine, index: int) -> GenerateRequest:
        plain = GenerateRequest(script=line.script, context=line.context or context,
                                emotion=line.emotion or emotion, seed=seed + index, fps=fps, intensity=intensity)
        sound = sounds.get(line.id.lower())
        recording = recording_of(line, sound, audio_folder)
        if recording is None:
            return plain
        try:
            return with_recording(plain.validated(), recording)
        except AudioError as error:
            if line.audio:  # the dialogue names this recording: its problem is the line's error
                raise
            # A strip's sound that cannot be read still times the line, as before alignment.
            return replace(plain, audio={"notes": [f"{error} The line is stretched to its sound strip."]})

    def generate(item):
        index, line = item
        try:
            return backend.generate(request(line, index))
        except InputError as error:
            raise InputError(f"Line {line.id} ({_where(line)}): {error}") from None

    if concurrency is None:
        concurrency = REMOTE_LINES_IN_FLIGHT if backend.remote else 1
    if concurrency > 1 and len(items) > 1:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            tracks = list(pool.map(generate, items))
    else:
        tracks = [generate(item) for item in items]
    by_index = {index: track for (index, _), track in zip(items, tracks)}

    placed: list[PlacedLine] = []
    cursor = 0.0
    notes = []
    for index, line in enumerate(lines):
        track = by_index.get(index)
        sound = sounds.get(line.id.lower())
        if sound:
            start, duration = sound[:2]
        else:
            start = (line.start_frame - origin_frame) / fps if line.start_frame is not None else None
            duration = line.duration
        if duration is None:
            duration = track.duration if track else time_script(line.script).duration
        if start is None:
            start = cursor + line.pause_before + (gap if placed else 0.0)
        if track is not None and "alignment" in track.audio:
            duration = track.duration  # aligned to its recording: stretching would lose the sync
        if track is not None:
            if abs(track.duration - duration) > 1e-3:
                track = track.retimed(duration)
            previous = next((p for p in reversed(placed) if p.performed), None)
            if previous and start < previous.end - 1e-6:
                raise InputError(
                    f"Line {line.id} ({_where(line)}) starts at frame {round(start * fps)}, before line "
                    f"{previous.line.id} ends at frame {round(previous.end * fps)}: move it or shorten the other."
                )
        if start < 0:
            raise InputError(f"Line {line.id} ({_where(line)}) starts at frame {round(start * fps) + origin_frame}, "
                             f"before the scene's start frame {origin_frame}.")
        placed.append(PlacedLine(line, start, duration, track is not None, track))
        cursor = max(cursor, start + duration)
        if track is not None:
            notes.extend(f"{line.id}: {note}" for note in track.notes)
    check_duration(max(p.end for p in placed), "The scene's length")
    return Scene(merge(placed, fps, seed), placed, notes)


def recording_of(line: DialogueLine, sound: tuple | None, folder: str | Path | None) -> Path | None:
    """The recording that times ``line``: its sound strip's file, else its ``audio`` cell."""
    if sound and len(sound) > 2 and sound[2]:
        return Path(sound[2])
    if line.audio:
        path = Path(line.audio)
        return path if path.is_absolute() or folder is None else Path(folder) / path
    return None


def _where(line: DialogueLine) -> str:
    return f"row {line.row}" if line.row else "dialogue"


# ------------------------------------------------------------------------------------ merging

def _shifted(keyframe: Keyframe, offset: float, label: str | None = None) -> Keyframe:
    return Keyframe(time=round(keyframe.time + offset, 4), label=label or keyframe.label,
                    description=keyframe.description, weights=dict(keyframe.weights), pose=dict(keyframe.pose))


def _between(a: Keyframe, b: Keyframe, time: float) -> Keyframe:
    """The transition key where one line ends and the next begins: halfway between the two
    faces, so the performance flows on instead of resetting."""
    return Keyframe(
        time=round(time, 4), label="transition", description=b.description,
        weights={name: (a.weights[name] + b.weights[name]) / 2 for name in a.weights},
        pose={name: (a.pose[name] + b.pose[name]) / 2 for name in a.pose},
    )


def merge(placed: list[PlacedLine], fps: float, seed: int = 0) -> Track:
    """One track from the placed lines: keyframes and layers shifted to each line's start;
    where a line ends close to the next one's start, the two keys become one transition."""
    spoken = [p for p in placed if p.performed]
    duration = round(max(p.end for p in placed), 4)
    keyframes: list[Keyframe] = []
    layers: dict[str, Layer] = {}
    for part in spoken:
        incoming = [_shifted(k, part.start) for k in part.track.keyframes]
        if keyframes and incoming[0].time - keyframes[-1].time < MERGE_WINDOW:
            release = keyframes.pop()
            incoming[0] = _between(release, incoming[0], max(release.time, incoming[0].time))
        keyframes.extend(incoming)
        for name, layer in part.track.layers.items():
            merged = layers.setdefault(name, Layer(layer.blend, {}, layer.description))
            for channel, keys in layer.channels.items():
                target = merged.channels.setdefault(channel, [])
                for time, value in keys:
                    time = round(time + part.start, 4)
                    if not target or time > target[-1][0]:
                        target.append((time, value))

    _listening_blinks(layers, placed, spoken, duration, seed)
    lines_info = [
        {"id": p.line.id, "speaker": p.line.speaker, "script": p.line.script, "start": round(p.start, 4),
         "end": round(p.end, 4), "performed": p.performed}
        for p in placed
    ]
    scripts = [f"{p.line.speaker}: {p.line.script}" if p.line.speaker else p.line.script for p in spoken]
    first = spoken[0].track
    return Track(
        fps=fps,
        duration=duration,
        script="\n".join(scripts),
        context=first.context,
        emotion="; ".join(dict.fromkeys(p.track.emotion for p in spoken if p.track.emotion)),
        backend=first.backend,
        seed=seed,
        intensity=first.intensity,
        keyframes=keyframes,
        layers=layers,
        notes=[],
        analysis={"lines": lines_info},
    )


def _listening_blinks(layers: dict[str, Layer], placed, spoken, duration: float, seed: int) -> None:
    """Blinks while the character is silent (pauses, other speakers' lines): each line's own
    blinks only cover the time it speaks."""
    silences = []
    cursor = 0.0
    for part in spoken:
        if part.start - cursor >= LISTENING_BLINK_GAP:
            silences.append((cursor, part.start))
        cursor = max(cursor, part.end)
    if duration - cursor >= LISTENING_BLINK_GAP:
        silences.append((cursor, duration))
    if not silences:
        return
    blinks = layers.setdefault("blinks", Layer("max", {}, "Natural blinks, kept away from expressive apexes."))
    for index, (begin, end) in enumerate(silences):
        channels = blink_channels(blink_times(end - begin, 1.0, [], [], seed * 1000 + index))
        for channel, keys in channels.items():
            target = blinks.channels.setdefault(channel, [])
            target.extend((round(t + begin, 4), v) for t, v in keys)
            target.sort()
    for channel, keys in list(blinks.channels.items()):
        clean = []
        for time, value in keys:
            if not clean or time > clean[-1][0]:
                clean.append((time, value))
        blinks.channels[channel] = clean
