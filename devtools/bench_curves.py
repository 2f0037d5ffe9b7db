"""Key reduction side by side: our fitted reducer, Blender's Graph Editor Decimate and the
previous Auto Clamped reducer, at the same error bound on the same dense curves.

Every curve is judged the same way: evaluated exactly as Blender plays it
(``curves.evaluate_bezier`` on the keys and handles read back from Blender for Decimate),
at every frame (frames farther than the bound from the source) and at four points per frame
(overshoots: values beyond the range the source covers, 0..1 for shape weights).

Our and the previous reducer's times are CPU seconds (all threads), comparable on a machine
other processes share; Decimate's is the wall time when it was measured. Decimate is slow
(about three minutes on the 10-minute capture), so its figures are cached in
``out/bench-cache/`` under a hash of the input curves, the bound and the Blender version: the
first run measures it, later runs reuse the measurement (the row says which).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BOUND = 0.02
SUBSAMPLES = 4
# The previous reducer polished (removal passes) captures up to this many frames.
POLISH_LIMIT = 20000


@dataclass
class Judged:
    keys: int
    seconds: float
    outside: int
    overshoots: int
    max_error: float
    cached: bool = False


def _judge(frames, source, curves) -> tuple[int, int, float]:
    """(frames outside the bound, overshooting samples, max error) of curves given as
    ``(x, y, left_x, left_y, right_x, right_y)`` per channel."""
    from model_runtime.curves import evaluate_bezier

    fine = np.linspace(frames[0], frames[-1], SUBSAMPLES * (len(frames) - 1) + 1)
    outside = overshoots = 0
    worst = 0.0
    for row, curve in zip(source, curves):
        error = np.abs(evaluate_bezier(*curve, frames) - row)
        outside += int((error > BOUND + 1e-6).sum())
        worst = max(worst, float(error.max()))
        between = evaluate_bezier(*curve, fine)
        overshoots += int(((between < row.min() - 1e-6) | (between > row.max() + 1e-6)).sum())
    return outside, overshoots, worst


def ours(frames, source) -> Judged:
    from model_runtime.fitting import fit_curves

    start = time.process_time()
    fitted = fit_curves(frames, source, BOUND)
    seconds = time.process_time() - start
    curves = [(c.x, c.y, c.left_x, c.left_y, c.right_x, c.right_y) for c in fitted]
    return Judged(sum(len(c) for c in fitted), seconds, *_judge(frames, source, curves))


def auto_clamped(frames, source) -> Judged:
    from model_runtime.curves import auto_clamped_handles, reduce_curve

    polish = len(frames) <= POLISH_LIMIT
    start = time.process_time()
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        kept = [k for k, _ in pool.map(lambda row: reduce_curve(frames, row, BOUND, polish=polish), source)]
    seconds = time.process_time() - start
    curves = []
    for row, keep in zip(source, kept):
        x, y = frames[keep].astype(np.float64), row[keep]
        left_x, left_y, right_x, right_y = auto_clamped_handles(x, y)
        curves.append((x, y, left_x, left_y, right_x, right_y))
    return Judged(sum(len(k) for k in kept), seconds, *_judge(frames, source, curves))


def _cache_path(frames, source) -> Path:
    import bpy

    from .blender_env import ROOT

    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(frames, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(source, dtype=np.float64).tobytes())
    digest.update(f"{BOUND} {SUBSAMPLES} {bpy.app.version_string}".encode())
    return ROOT / "out" / "bench-cache" / f"decimate-{digest.hexdigest()[:24]}.json"


def decimate(frames, source) -> Judged:
    """Graph Editor Decimate (error mode, the same bound) on every frame keyed, from cache
    when this input was measured before."""
    path = _cache_path(frames, source)
    if path.exists():
        return Judged(**{**json.loads(path.read_text()), "cached": True})
    keys, seconds, curves = _decimate_in_blender(frames, source)
    judged = Judged(keys, seconds, *_judge(frames, source, curves))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v for k, v in judged.__dict__.items() if k != "cached"}))
    return judged


def _decimate_in_blender(frames, source):
    import bpy

    from .blender_env import extension_module, load_extension

    load_extension()
    anim_compat = extension_module("keyframeface_addon.anim_compat")
    writer = extension_module("keyframeface_addon.writers.channels")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    holder = bpy.data.objects.new("Decimate bench", None)
    scene.collection.objects.link(holder)
    names = [f"c{i:03d}" for i in range(len(source))]
    for name in names:
        holder[name] = 0.0
    actions, sinks = anim_compat.create_take("dense", [holder])
    sink, slot = sinks[holder.name]
    for name, row in zip(names, source):
        writer.fill_keys(sink.new_fcurve(f'["{name}"]', "Dense"), frames.astype(np.float64), row)
    anim_compat.assign(holder, actions[0], slot)
    holder.select_set(True)
    bpy.context.view_layer.objects.active = holder
    window = bpy.context.window
    area = window.screen.areas[0]
    area.type = "GRAPH_EDITOR"
    region = next(r for r in area.regions if r.type == "WINDOW")
    for fcurve in anim_compat.fcurves_for(holder):
        fcurve.select = True
        fcurve.keyframe_points.foreach_set("select_control_point", np.ones(len(fcurve.keyframe_points), dtype=bool))
    start = time.perf_counter()
    with bpy.context.temp_override(window=window, area=area, region=region):
        bpy.ops.graph.decimate(mode="ERROR", remove_error_margin=BOUND)
    seconds = time.perf_counter() - start
    by_name = {fc.data_path.split('"')[1]: fc for fc in anim_compat.fcurves_for(holder)}
    curves = []
    for name in names:
        points = by_name[name].keyframe_points
        arrays = {}
        for attribute in ("co", "handle_left", "handle_right"):
            flat = np.empty(2 * len(points), dtype=np.float32)
            points.foreach_get(attribute, flat)
            arrays[attribute] = flat.astype(np.float64)
        curves.append((arrays["co"][0::2], arrays["co"][1::2], arrays["handle_left"][0::2], arrays["handle_left"][1::2],
                       arrays["handle_right"][0::2], arrays["handle_right"][1::2]))
    return sum(len(c[0]) for c in curves), seconds, curves


def datasets(long_capture_path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, frames, values of shape (channels, frames)): the 10-minute capture, the real
    recordings (when ../shared is present) and a body-animation set."""
    from model_runtime.arkit import BLENDSHAPES
    from model_runtime.capture import resample
    from model_runtime.formats.llf_csv import read_llf_csv

    from .blender_env import ROOT

    def shapes(path, fps):
        capture = read_llf_csv(path)
        frames, values = resample(capture, fps)
        columns = values[:, : len(BLENDSHAPES)]
        used = ~np.isnan(columns).all(axis=0) & (np.nanmax(np.abs(columns), axis=0) > 1e-4)
        return frames.astype(np.float64), np.ascontiguousarray(np.clip(columns[:, used], 0.0, 1.0).T)

    found = [("10-min capture, 60 fps, 52 shapes", *shapes(long_capture_path, 60.0))]
    recordings = ROOT.parent / "shared" / "assets" / "recordings"
    for name in ("alex_rom_4", "apfel", "MySlate_3_Jason_Millers_iPhone"):
        path = recordings / f"{name}.csv"
        if path.exists():
            fps = round(read_llf_csv(path).fps)
            frames, values = shapes(path, float(fps))
            found.append((f"{name} ({len(frames)} frames at {fps} fps, {len(values)} shapes)", frames, values))
    frames, values = body_animation()
    found.append((f"body: noisy walk capture, {len(values)} bone rotations x {len(frames)} frames", frames, values))
    return found


def body_animation(seconds: float = 60.0, fps: float = 60.0, bones: int = 8, seed: int = 0):
    """A dense, noisy capture of a walk: per bone three Euler rotations (radians) made of the
    gait's harmonics (stride 1.1 s), a slow drift and sensor noise; values far outside 0..1."""
    rng = np.random.default_rng(seed)
    frames = np.arange(int(seconds * fps) + 1, dtype=np.float64)
    phase = 2 * np.pi * frames / (1.1 * fps)
    rows = []
    for _ in range(bones * 3):
        value = rng.uniform(-1.5, 1.5) + np.zeros(len(frames))
        for harmonic in (1, 2, 3):
            value += rng.uniform(0.02, 0.6) / harmonic * np.sin(harmonic * phase + rng.uniform(0, 2 * np.pi))
        drift = np.convolve(rng.normal(0, 0.02, len(frames)), np.ones(120) / 120, mode="same")
        rows.append(value + np.cumsum(drift) * 0.05 + rng.normal(0, 0.003, len(frames)))
    return frames, np.array(rows)


def bench_curves(long_capture_path) -> list[tuple[str, str, str, str]]:
    rows = []
    for label, frames, source in datasets(long_capture_path):
        mine, theirs, previous = ours(frames, source), decimate(frames, source), auto_clamped(frames, source)
        cached = " (cached)" if theirs.cached else ""
        rows.append((f"keys at max error {BOUND}: {label}",
                     f"{mine.keys:,} keys, {mine.outside} frames off, {mine.overshoots} overshoots, {mine.seconds:.2f} s CPU",
                     f"Decimate {theirs.keys:,} keys, {theirs.outside} frames off (max {theirs.max_error:.3f}), "
                     f"{theirs.overshoots} overshoots, {theirs.seconds:.0f} s wall{cached}",
                     f"{mine.keys / max(theirs.keys, 1):.2f}x Decimate's keys"))
        rows.append(("  previous Auto Clamped reducer, same curves",
                     f"{previous.keys:,} keys, {previous.outside} frames off, {previous.overshoots} overshoots",
                     f"{previous.seconds:.2f} s CPU", f"ours {mine.keys / max(previous.keys, 1):.2f}x its keys, "
                     f"{previous.seconds / max(mine.seconds, 1e-9):.1f}x faster"))
    return rows
