"""The fitted reducer's promises checked where they count: in Blender, with ``fcurve.evaluate``
on the written curves (not only in our evaluator), on real recordings and on body animation."""

import numpy as np
import pytest

from conftest import shared_file
from model_runtime.arkit import BLENDSHAPE_INDEX, PARAMETERS
from model_runtime.capture import resample
from model_runtime.curves import evaluate
from model_runtime.playback import LAYER_KEY_TOLERANCE, composed_keys
from model_runtime.formats.llf_csv import read_llf_csv

MAX_ERROR = 0.02
# Blender evaluates in float32: a few ulps of 1.0.
FLOAT32 = 2e-6


def _played(fcurve, frames) -> np.ndarray:
    return np.array([fcurve.evaluate(float(f)) for f in frames])


@pytest.mark.parametrize("recording", ["MySlate_3_Jason_Millers_iPhone", "apfel", "alex_rom_4"])
def test_imported_recording_stays_within_the_bound_and_never_overshoots(blender, demo_head, recording):
    import bpy

    anim_compat = blender("keyframeface_addon.anim_compat")
    path = shared_file(f"recordings/{recording}.csv")
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    scene.keyframeface.start_frame = 1
    assert bpy.ops.keyframeface.import_llf_csv(filepath=str(path), max_error=MAX_ERROR) == {"FINISHED"}
    frames, values = resample(read_llf_csv(path), 30.0)
    curves = {fc.data_path.split('"')[1]: fc for fc in anim_compat.fcurves_for(demo_head.data.shape_keys)}
    assert len(curves) >= 40
    kinds = set()
    for name, fcurve in curves.items():
        low = 0.0 if name in BLENDSHAPE_INDEX else -1.0  # shape weights 0..1, head and eyes -1..1
        truth = np.clip(values[:, PARAMETERS.index(name)], low, 1.0)
        played = _played(fcurve, frames + 1)
        assert np.abs(played - truth).max() <= MAX_ERROR + FLOAT32, name
        # Between frames too: never outside the range, and no peak beyond the extreme keys.
        between = _played(fcurve, np.linspace(1, frames[-1] + 1, 8 * len(frames)))
        keys = np.array([point.co[1] for point in fcurve.keyframe_points])
        assert between.min() >= max(keys.min(), low) - FLOAT32, name
        assert between.max() <= min(keys.max(), 1.0) + FLOAT32, name
        kinds.update(point.handle_left_type for point in fcurve.keyframe_points)
    assert kinds <= {"ALIGNED", "FREE"} and "ALIGNED" in kinds
    dense = len(frames) * len(curves)
    assert sum(len(fc.keyframe_points) for fc in curves.values()) < 0.15 * dense


def test_blender_keeps_the_fitted_handles(blender, demo_head):
    """Blender recomputes handles of the types it owns; fitted ones must come back unchanged."""
    import bpy

    anim_compat = blender("keyframeface_addon.anim_compat")
    path = shared_file("recordings/apfel.csv")
    assert bpy.ops.keyframeface.import_llf_csv(filepath=str(path), max_error=MAX_ERROR) == {"FINISHED"}
    from model_runtime.capture import reduce_capture

    # The operator's property holds the bound in float32.
    reduced = reduce_capture(read_llf_csv(path), 30.0, float(np.float32(MAX_ERROR)))
    start = bpy.context.scene.keyframeface.start_frame
    for fcurve in anim_compat.fcurves_for(demo_head.data.shape_keys):
        name = fcurve.data_path.split('"')[1]
        fitted = reduced.keys[name]
        count = len(fcurve.keyframe_points)
        assert count == len(fitted)
        left, right = np.empty(2 * count, dtype=np.float32), np.empty(2 * count, dtype=np.float32)
        fcurve.keyframe_points.foreach_get("handle_left", left)
        fcurve.keyframe_points.foreach_get("handle_right", right)
        assert np.allclose(left[1::2], fitted.left_y, atol=1e-6) and np.allclose(right[1::2], fitted.right_y, atol=1e-6)
        assert np.allclose(left[0::2], fitted.left_x + start, atol=1e-3)
        assert [p.handle_left_type for p in fcurve.keyframe_points] == fitted.handle_types()


def _walk_cycle(frames: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """Dense, noisy bone-rotation-like curves (radians and metres, far outside 0..1)."""
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * frames / 32.0
    curves = [
        0.6 * np.sin(phase) + 0.15 * np.sin(2 * phase + 0.4),
        -1.2 + 0.9 * np.maximum(np.sin(phase + 1.0), 0.0) ** 2,
        2.5 + 0.05 * np.sin(2 * phase),
        np.cumsum(rng.normal(0.0, 0.004, len(frames))) * 3.0,
    ]
    return [c + rng.normal(0.0, 0.002, len(frames)) for c in curves]


def test_reduce_keys_on_selected_body_curves_in_the_graph_editor(blender, scene):
    import bpy

    rig = bpy.data.objects.new("Walker", None)
    scene.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    rig.select_set(True)  # the Graph Editor lists the selected objects' curves
    frames = np.arange(1, 241, dtype=np.float64)
    dense = _walk_cycle(frames)
    for index, values in enumerate(dense[:3]):
        for frame, value in zip(frames, values):
            rig.rotation_euler[index] = value
            rig.keyframe_insert("rotation_euler", index=index, frame=frame)
    for frame, value in zip(frames, dense[3]):
        rig.location[0] = value
        rig.keyframe_insert("location", index=0, frame=frame)
    anim_compat = blender("keyframeface_addon.anim_compat")
    fcurves = {(fc.data_path, fc.array_index): fc for fc in anim_compat.fcurves_for(rig)}
    untouched = fcurves[("rotation_euler", 2)]
    for fcurve in fcurves.values():
        fcurve.select = fcurve is not untouched

    window = bpy.context.window
    area = window.screen.areas[0]
    area.type = "GRAPH_EDITOR"
    region = next(r for r in area.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, area=area, region=region):
        assert bpy.ops.keyframeface.reduce_keys(max_error=0.01) == {"FINISHED"}

    assert len(untouched.keyframe_points) == len(frames)
    sources = {("rotation_euler", 0): dense[0], ("rotation_euler", 1): dense[1], ("location", 0): dense[3]}
    for path, source in sources.items():
        fcurve = fcurves[path]
        assert len(fcurve.keyframe_points) < len(frames) / 3, path
        assert np.abs(_played(fcurve, frames) - source).max() <= 0.01 + FLOAT32, path
        between = _played(fcurve, np.linspace(1, 240, 4000))
        assert between.min() >= source.min() - FLOAT32 and between.max() <= source.max() + FLOAT32, path


def test_reduce_keys_needs_selected_curves_in_the_graph_editor(blender, scene):
    import bpy

    window = bpy.context.window
    area = window.screen.areas[0]
    area.type = "GRAPH_EDITOR"
    region = next(r for r in area.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, area=area, region=region):
        assert not bpy.ops.keyframeface.reduce_keys.poll()
    assert {"REGISTER", "UNDO"} <= set(bpy.types.KEYFRAMEFACE_OT_reduce_keys.bl_options)


def test_shape_weights_hold_flat_and_land_peaks_on_keys(blender, demo_head):
    """A generated-like curve: holds at exact values stay flat, the peak is a key."""
    import bpy

    curve_tools = blender("keyframeface_addon.curve_tools")
    key = demo_head.data.shape_keys
    block = key.key_blocks["jawOpen"]
    frames = np.arange(1, 121, dtype=np.float64)

    def ease(a, b, start, end):
        phase = np.clip((frames - start) / (end - start), 0.0, 1.0)
        return a + (b - a) * (0.5 - 0.5 * np.cos(np.pi * phase))

    # 0 until frame 22, up to a peak of 1 at 50, down to a hold at 0.3 from 70 to 88, then 0.
    smooth = np.where(frames <= 50, ease(0.0, 1.0, 22, 50), np.where(frames <= 88, ease(1.0, 0.3, 50, 70), ease(0.3, 0.0, 88, 120)))
    for frame, value in zip(frames, smooth):
        block.value = value
        block.keyframe_insert("value", frame=frame)
    anim_compat = blender("keyframeface_addon.anim_compat")
    fcurve = anim_compat.fcurves_for(key)[0]
    before, after = curve_tools.reduce_fcurve(fcurve, 0.01)
    assert after < before / 4
    keyed = {round(point.co[0]) for point in fcurve.keyframe_points}
    assert {22, 70, 88} <= keyed  # where the holds start and end
    assert 1 + int(np.argmax(smooth)) in keyed
    hold = _played(fcurve, np.linspace(1, 22, 50))
    assert np.all(hold == 0.0)
    hold = _played(fcurve, np.linspace(70, 88, 50))
    assert np.allclose(hold, 0.3, atol=1e-7)
    assert _played(fcurve, np.linspace(1, 120, 2000)).max() <= smooth.max() + FLOAT32


def test_generated_lip_sync_layer_is_fitted_within_its_bound(blender, demo_head):
    import bpy

    scene = bpy.context.scene
    scene.keyframeface.script = "Well, that went better than expected! We actually did it."
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    takes = blender("keyframeface_addon.takes")
    anim_compat = blender("keyframeface_addon.anim_compat")
    key = demo_head.data.shape_keys
    track = takes.track_of(key.animation_data.action)
    strip = takes.layer_track(key).strips[0]
    fcurves = anim_compat.fcurve_container(strip.action, getattr(strip, "action_slot", None)).fcurves
    auto = composed_keys(track, 30, layers="lipsync")
    start = scene.keyframeface.start_frame
    frames = np.arange(0, round(track.duration * 30) + 1)
    fitted_keys = 0
    for fcurve in fcurves:
        name = fcurve.data_path.split('"')[1]
        assert {p.handle_left_type for p in fcurve.keyframe_points} <= {"ALIGNED", "FREE"}
        # The layer's offsets as the track defines them (Auto Clamped within the same bound).
        dense_frames, dense_values = auto[name]
        reference = evaluate(dense_frames, dense_values, frames)
        played = _played(fcurve, frames + start)
        assert np.abs(played - reference).max() <= 2 * LAYER_KEY_TOLERANCE + FLOAT32, name
        fitted_keys += len(fcurve.keyframe_points)
    assert fitted_keys < sum(len(f) for f, _ in auto.values())


def test_generated_blinks_are_fitted_close_the_lids_and_stay_in_range(blender, demo_head):
    """The blink layer goes through the same reducer as the lip sync: the lids' curves in the
    take have fitted handles, fewer keys than Auto Clamped keys at the same bound, play the
    composed lids within the bound at every frame (so every blink closes when the track says),
    and never leave 0..1 between frames."""
    import bpy

    from model_runtime.curves import reduce_keys
    from model_runtime.playback import KEY_TOLERANCE, keyframe_frames, sample_channel

    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    scene.keyframeface.script = ("I waited all night by the phone. You never called, not once, and I kept telling myself "
                                 "you were busy. Now you walk in here and want to talk about it like nothing happened? "
                                 "No. Not tonight. I am done waiting for you.")
    scene.keyframeface.seed = 7
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    takes = blender("keyframeface_addon.takes")
    anim_compat = blender("keyframeface_addon.anim_compat")
    key = demo_head.data.shape_keys
    track = takes.track_of(key.animation_data.action)
    blinks = track.layers["blinks"].channels["eyeBlinkLeft"]
    assert len(blinks) >= 6  # at least two blinks to check
    start = scene.keyframeface.start_frame
    frames = np.arange(0, round(track.duration * 30) + 1)
    curves = {fc.data_path: fc for fc in anim_compat.fcurves_for(key)}
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        fcurve = curves[f'key_blocks["{name}"].value']
        assert {p.handle_left_type for p in fcurve.keyframe_points} <= {"ALIGNED", "FREE"}
        truth = sample_channel(track, name, frames / 30.0)
        played = _played(fcurve, frames + start)
        assert np.abs(played - truth).max() <= KEY_TOLERANCE + FLOAT32, name
        for time, value in blinks:
            if value == 1.0:  # a blink's apex: the lids close on the nearest frames as composed
                nearest = int(round(time * 30))
                assert played[nearest] >= truth[nearest] - KEY_TOLERANCE - FLOAT32
                assert truth[nearest] > 0.6
        between = _played(fcurve, np.linspace(start, start + frames[-1], 20 * len(frames)))
        assert between.min() >= -FLOAT32 and between.max() <= 1.0 + FLOAT32
        auto = reduce_keys(frames, truth, KEY_TOLERANCE, required=sorted(set(keyframe_frames(track, 30))))
        assert len(fcurve.keyframe_points) < len(auto), name
