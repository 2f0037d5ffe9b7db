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

from devtools.voice_bench import bench_voice

LINES = [
    ("I can't believe you did this to me.", "Her best friend just admitted reading her diary.", "Hurt, turning into anger"),
    ("Well, that went better than expected!", "After a job interview.", "relieved"),
    ("Don't touch that. Please, just... don't.", "A child reaches for a fragile heirloom.", "anxiety concealed by a restrained smile"),
    ("We did it. We actually did it!", "The team wins the final.", "joy mixed with disbelief"),
    ("You think this is funny?", "A prank went too far.", "irritated"),
    ("I miss the way things used to be.", "Looking at an old photo.", "bittersweet"),
    ("Get out. Now.", "An intruder in the kitchen.", "furious"),
    ("Is anyone there?", "A dark corridor.", "fear"),
]

INTERACTIVE_BUDGET_MS = 10.0


def _median_ms(function, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def bench_generation(repeats: int) -> list[tuple[str, str, str, str]]:
    from model_runtime.backends import GenerateRequest, get_backend
    from model_runtime.playback import composed_keys

    backend = get_backend("builtin")
    requests = [GenerateRequest(script=s, context=c, emotion=e, seed=i) for i, (s, c, e) in enumerate(LINES)]
    for request in requests:  # warm caches (regexes, tables) as a running Blender session has them
        backend.generate(request)
    per_line = [_median_ms(lambda r=r: backend.generate(r), repeats) for r in requests]
    tracks = [backend.generate(r) for r in requests]
    keys = [_median_ms(lambda t=t: composed_keys(t, 30), repeats) for t in tracks]
    generation = statistics.median(per_line)
    reduction = statistics.median(keys)
    return [
        ("generate one line (built-in, median of 8 lines)", f"{generation:.1f} ms",
         f"interactive budget {INTERACTIVE_BUDGET_MS:.0f} ms", f"{generation / INTERACTIVE_BUDGET_MS:.2f}x"),
        ("compose keys for Blender (layers + reduction)", f"{reduction:.1f} ms",
         "generate one line", f"{reduction / generation:.2f}x"),
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


def bench_capture_import(max_error: float = 0.02) -> list[tuple[str, str, str, str]]:
    import tempfile
    from pathlib import Path

    import bpy
    import numpy as np

    from .blender_env import extension_module, load_extension

    load_extension()
    anim_compat = extension_module("keyframeface_addon.anim_compat")
    writer = extension_module("keyframeface_addon.writers.channels")
    from model_runtime.arkit import PARAMETERS
    from model_runtime.capture import resample
    from model_runtime.formats.llf_csv import read_llf_csv

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ten_minutes.csv"
        _long_capture(path)
        bpy.ops.wm.read_homefile(use_empty=True)
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 60, 1.0
        bpy.ops.keyframeface.demo_head()
        head = bpy.context.active_object
        start = time.perf_counter()
        bpy.ops.keyframeface.import_llf_csv(filepath=str(path), max_error=max_error)
        ours_time = time.perf_counter() - start
        # Count the 52 shapes only, as the baseline below keys only those.
        ours_keys = sum(len(fc.keyframe_points) for fc in anim_compat.fcurves_for(head.data.shape_keys)
                        if fc.data_path.startswith("key_blocks"))

        # Baseline: every frame keyed (bulk), then the Graph Editor's Decimate at the same error.
        capture = read_llf_csv(path)
        frames, values = resample(capture, 60.0)
        bpy.ops.wm.read_homefile(use_empty=True)
        scene = bpy.context.scene
        scene.render.fps, scene.render.fps_base = 60, 1.0
        bpy.ops.keyframeface.demo_head()
        head = bpy.context.active_object
        key = head.data.shape_keys
        actions, sinks = anim_compat.create_take("dense", [key])
        sink, slot = sinks[key.name]
        names = [n for n in PARAMETERS[:52]]
        for name in names:
            writer.fill_keys(sink.new_fcurve(f'key_blocks["{name}"].value', "Dense"), frames + 1.0, np.clip(values[:, PARAMETERS.index(name)], 0, 1))
        anim_compat.assign(key, actions[0], slot)
        window = bpy.context.window
        area = window.screen.areas[0]
        area.type = "GRAPH_EDITOR"
        region = next(r for r in area.regions if r.type == "WINDOW")
        for fcurve in anim_compat.fcurves_for(key):
            fcurve.select = True
            fcurve.keyframe_points.foreach_set("select_control_point", np.ones(len(fcurve.keyframe_points), dtype=bool))
        head.select_set(True)
        start = time.perf_counter()
        with bpy.context.temp_override(window=window, area=area, region=region):
            bpy.ops.graph.decimate(mode="ERROR", remove_error_margin=max_error)
        decimate_time = time.perf_counter() - start
        curves = anim_compat.fcurves_for(key)
        decimate_keys = sum(len(fc.keyframe_points) for fc in curves)
        decimate_error = 0.0
        for fcurve in curves[:8]:
            name = fcurve.data_path.split('"')[1]
            truth = np.clip(values[:, PARAMETERS.index(name)], 0, 1)
            played = np.array([fcurve.evaluate(f) for f in frames[::7] + 1.0])
            decimate_error = max(decimate_error, float(np.abs(played - truth[::7]).max()))
        dense = len(frames) * 52
    return [
        ("import 10 min 60 fps capture + reduce, 52 shapes", f"{ours_time:.2f} s, {ours_keys:,} keys",
         f"dense {dense:,} keys", f"{ours_keys / dense:.1%} kept, max error <= {max_error}"),
        ("  Graph Editor Decimate, same error", f"{decimate_time:.2f} s, {decimate_keys:,} keys",
         f"measured error {decimate_error:.3f}",
         f"ours {decimate_time / ours_time:.0f}x faster, {ours_keys / max(decimate_keys, 1):.2f}x its keys"),
    ]


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


def _decode_figures(stats, seconds: float) -> str:
    return (f"{seconds:.2f} s, {stats.steps} steps, {stats.decoded_tokens} tokens decoded + {stats.fed_tokens} fed; "
            f"forward {stats.forward_seconds:.2f} s, engine {stats.engine_seconds:.2f} s")


def _timed(backend, function):
    from model_runtime.backends.decoding import DecodeStats

    backend.stats = DecodeStats()
    started = time.perf_counter()
    result = function()
    return result, backend.stats, time.perf_counter() - started


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
    import torch

    from model_runtime.backends import GenerateRequest, get_backend

    rows = []
    backend = get_backend("local", model_path=path, device=device)
    where = f"{backend.device}" + (f", {torch.get_num_threads()} thread(s)" if backend.device == "cpu" else
                                   f" {str(backend.dtype).replace('torch.', '')}")
    backend.solve(LOCAL_DESCRIPTIONS, 0, "", "joy")  # warm up
    _, one, seconds = _timed(backend, lambda: backend.solve(LOCAL_DESCRIPTIONS, 1, "", "joy"))
    unbatched = one.decoded_tokens + one.fed_tokens
    rows.append((f"local {label} ({where}): one keyframe", _decode_figures(one, seconds),
                 f"without fast-forward: {unbatched} steps", f"{unbatched / max(one.steps, 1):.1f}x fewer steps"))
    if label.startswith("tiny"):
        reference = get_backend("local", model_path=path, device=device, engine="reference")
        _, slow, slow_seconds = _timed(reference, lambda: reference.solve(LOCAL_DESCRIPTIONS, 1, "", "joy"))
        rows.append((f"local {label} ({where}): one keyframe, pure-Python grammar, no fast-forward",
                     _decode_figures(slow, slow_seconds), f"llguidance: {seconds:.2f} s",
                     f"{slow_seconds / seconds:.1f}x"))
    track, line, line_seconds = _timed(backend, lambda: backend.generate(
        GenerateRequest(script=script, context=context, emotion=emotion)))
    unbatched = line.decoded_tokens + line.fed_tokens
    honest = "degenerate parts replaced" if any("degenerate" in n for n in track.notes) else "model's own"
    rows.append((f"local {label} ({where}): line of {len(track.keyframes)} keyframes, model plans ({honest})",
                 _decode_figures(line, line_seconds),
                 f"one at a time, no fast-forward: {unbatched} steps",
                 f"{unbatched / max(line.steps, 1):.1f}x fewer steps"))
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
            callers = [get_backend("server", url=url, timeout=timeout, retries=12) for _ in range(clients)]
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda caller: caller.generate(request), callers))
            health = json.loads(urllib.request.urlopen(f"{url}/health", timeout=5).read())
            memory = _peak_memory_mb(process.pid)
            for options in ({"temperature": 0.7}, {"plan": "builtin", "on_degenerate": "fail"}):
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
    parser.add_argument("--only", help="comma-separated: generation, writing, capture, batch, server, local, "
                                       "local-server, voice")
    parser.add_argument("--voice-split", default="test", choices=("dev", "test"),
                        help="voice benchmark lines: test (reported) or dev (tuning)")
    args = parser.parse_args(argv)
    benches = {
        "generation": lambda: bench_generation(args.repeats),
        "writing": bench_key_writing,
        "capture": bench_capture_import,
        "batch": lambda: bench_batch(args.batch_lines),
        "server": bench_server,
        "local": lambda: bench_local_model(args.model, args.device),
        "local-server": bench_local_server,
        "voice": lambda: bench_voice(args.voice_split),
    }
    chosen = args.only.split(",") if args.only else list(benches)
    unknown = [name for name in chosen if name not in benches]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(benches)}")
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
