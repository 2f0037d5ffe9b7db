"""A game's whole dialogue outside Blender: ``python -m model_runtime batch LINES.csv --out DIR``.

Every row of the CSV (columns ``id, speaker, script, context, emotion`` and optionally
``duration`` in seconds and ``audio``, the line's recording relative to the CSV, which then
times the line) becomes ``DIR/<id>.track.json`` and ``DIR/<id>.csv`` (Live Link Face).
Local backends run on every core (one process each); remote backends send lines concurrently
from threads. A row that fails is written to ``DIR/errors.csv`` and the rest go on.

Resuming: ``DIR/batch-state.tsv`` records each finished line with a hash of its inputs; a rerun
skips lines whose record, inputs and files are all there, so a batch stopped half way (or a CSV
with a few edited rows) only redoes what is missing or changed. Files are written to a
temporary name and renamed, so a line cut off mid-write never counts as done.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from .audio.sync import with_recording
from .backends import GenerateRequest, get_backend
from .dialogue import DialogueLine, iter_csv_lines
from .errors import InputError, KeyframeFaceError
from .files import atomic_write, read_text
from .formats.llf_csv import write_track_llf_csv

STATE_FILE = "batch-state.tsv"
ERRORS_FILE = "errors.csv"
MAX_CSV_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class BatchSettings:
    backend: str = "builtin"
    fps: float = 30.0
    csv_fps: float = 60.0
    seed: int = 0
    intensity: float = 1.0
    backend_options: tuple = ()


@dataclass
class BatchReport:
    total: int
    written: int
    skipped: int
    errors: int
    seconds: float

    @property
    def lines_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def _audio_stamp(path: str) -> str:
    """Which recording a line had: a re-recorded take redoes the line."""
    try:
        status = os.stat(path)
    except OSError:
        return path
    return f"{path}:{status.st_size}:{status.st_mtime_ns}"


def input_hash(line: DialogueLine, settings: BatchSettings) -> str:
    fields = [line.id, line.speaker, line.script, line.context, line.emotion, repr(line.duration),
              _audio_stamp(line.audio) if line.audio else "",
              settings.backend, repr(settings.fps), repr(settings.csv_fps), str(settings.seed),
              repr(settings.intensity), repr(settings.backend_options)]
    return hashlib.sha1("\x1f".join(fields).encode("utf-8")).hexdigest()[:16]


# One backend per settings and process: made once (a local model loads for seconds); forked
# workers inherit the one ``run_batch`` made while checking the settings.
_BACKENDS: dict = {}


def _backend(settings: BatchSettings):
    if settings not in _BACKENDS:
        _BACKENDS[settings] = get_backend(settings.backend, **dict(settings.backend_options))
    return _BACKENDS[settings]


def perform_line(line: DialogueLine, settings: BatchSettings, out_dir: str) -> tuple[str, str | None]:
    """Generate one line and write its two files: ``(id, error or None)``."""
    try:
        backend = _backend(settings)
        request = GenerateRequest(
            script=line.script, context=line.context, emotion=line.emotion,
            seed=settings.seed + zlib.crc32(line.id.encode("utf-8")) % 100000,
            fps=settings.fps, intensity=settings.intensity,
        ).validated()
        if line.audio:
            request = with_recording(request, line.audio)
        track = backend.generate(request)
        if line.duration and "alignment" not in track.audio:
            track = track.retimed(line.duration)
        track.analysis["line"] = {"id": line.id, "speaker": line.speaker}
        folder = Path(out_dir)
        if _parent is not None and os.getppid() != _parent:
            raise SystemExit(0)  # the batch that asked for this line is gone: write nothing
        write_track_llf_csv(folder / f"{line.id}.csv", track, settings.csv_fps)
        track.save(folder / f"{line.id}.track.json")
        return line.id, None
    except KeyframeFaceError as error:
        return line.id, str(error)
    except Exception as error:  # one bad line never stops the batch
        return line.id, f"{type(error).__name__}: {error}"


def _perform_star(arguments):
    return perform_line(*arguments)


# In a pool worker: the batch process that started it. A worker whose batch was killed stops
# instead of writing lines no state record will ever list.
_parent: int | None = None


def _worker_started(parent: int) -> None:
    global _parent
    _parent = parent
    if sys.platform.startswith("linux"):
        try:  # and the kernel ends the worker with its parent (PR_SET_PDEATHSIG)
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(0)


def _read_state(path: Path) -> dict[str, str]:
    done = {}
    if path.exists():
        with open(path, encoding="utf-8") as handle:
            for row in handle:
                parts = row.rstrip("\n").split("\t")
                if len(parts) == 2:
                    done[parts[0]] = parts[1]
    return done


class _Progress:
    def __init__(self, total: int, stream, interval: float = 0.5):
        self.total, self.stream, self.interval = total, stream, interval
        self.started = time.perf_counter()
        self.shown = 0.0

    def update(self, done: int, skipped: int, errors: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self.shown < self.interval:
            return
        self.shown = now
        elapsed = now - self.started
        rate = (done - skipped) / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - done) / rate if rate > 0 else 0.0
        self.stream.write(
            f"\r{done:,}/{self.total:,} lines ({skipped:,} already done, {errors:,} errors) "
            f"{rate:,.0f} lines/s, about {remaining:,.0f} s left   "
        )
        if final:
            self.stream.write("\n")
        self.stream.flush()


def run_batch(csv_path, out_dir, settings: BatchSettings = BatchSettings(), jobs: int | None = None,
              concurrency: int = 8, progress=sys.stderr) -> BatchReport:
    csv_path, out = Path(csv_path), Path(out_dir)
    if not csv_path.is_file():
        raise InputError(f"No such CSV file: {csv_path}")
    if csv_path.stat().st_size > MAX_CSV_BYTES:
        raise InputError(f"{csv_path} is larger than {MAX_CSV_BYTES // 2**20} MB; split it into several batches.")
    backend = _backend(settings)  # fail early on a bad backend
    out.mkdir(parents=True, exist_ok=True)
    errors: list[tuple[int, str, str]] = []
    lines: list[DialogueLine] = []
    text = read_text(csv_path, csv_path.name, MAX_CSV_BYTES)
    for row, line, error, line_id in iter_csv_lines(io.StringIO(text, newline="")):
        if error:
            errors.append((row, line_id, error))
        else:
            # A recording is named relative to the CSV, wherever the batch runs from.
            lines.append(replace(line, audio=str(csv_path.parent / line.audio)) if line.audio else line)
    row_errors = len(errors)
    rows = {line.id: line.row for line in lines}

    state_path = out / STATE_FILE
    done = _read_state(state_path)
    hashes = {line.id: input_hash(line, settings) for line in lines}
    todo = [line for line in lines
            if done.get(line.id) != hashes[line.id]
            or not (out / f"{line.id}.track.json").exists() or not (out / f"{line.id}.csv").exists()]
    skipped = len(lines) - len(todo)
    meter = _Progress(len(lines), progress) if progress else None
    started = time.perf_counter()
    finished = skipped
    written = 0
    with open(state_path, "a", encoding="utf-8") as state:
        if backend.remote:
            pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
            results = pool.map(lambda line: perform_line(line, settings, str(out)), todo)
        else:
            workers = max(1, jobs or os.cpu_count() or 1)
            if workers == 1 or len(todo) < 2:
                results = (perform_line(line, settings, str(out)) for line in todo)
                pool = None
            else:
                pool = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn").Pool(
                    workers, initializer=_worker_started, initargs=(os.getpid(),))
                chunk = max(1, min(64, len(todo) // (workers * 8)))
                results = pool.imap_unordered(_perform_star, [(line, settings, str(out)) for line in todo], chunk)
        try:
            for line_id, error in results:
                finished += 1
                if error:
                    errors.append((rows[line_id], line_id, error))
                else:
                    written += 1
                    state.write(f"{line_id}\t{hashes[line_id]}\n")
                    state.flush()
                if meter:
                    meter.update(finished, skipped, len(errors))
        finally:
            if pool is not None:
                if isinstance(pool, ThreadPoolExecutor):
                    pool.shutdown(wait=True)
                else:
                    pool.terminate()
                    pool.join()
    seconds = time.perf_counter() - started
    if meter:
        meter.update(finished, skipped, len(errors), final=True)
    atomic_write(out / ERRORS_FILE, lambda handle: csv.writer(handle).writerows([["row", "id", "error"], *sorted(errors)]),
                 newline="")
    return BatchReport(len(lines) + row_errors, written, skipped, len(errors), seconds)
