"""./kff demo: the main job, headless, on the embedded defaults.

Builds the demo head, generates a performance for a line, writes keys, and leaves in the
output folder: the .blend, the .fbx, the track JSON, a Live Link Face CSV of the whole
performance, a PNG of the generated curves and a PNG contact sheet of the head at each
keyframe. ``--dialogue FILE`` (or ``--dialogue sample``) performs a dialogue scene instead:
one take across the lines, a marker per line. ``--gallery`` renders contrasting lines on every
head instead (``gallery.py``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .blender_env import ROOT, extension_module, load_extension

SAMPLE_SCENE = """# The diary
ANNA (hurt, turning into anger): I can't believe you did this to me.
BEN (guilty): I'm sorry. I didn't think it mattered.
[pause 0.8]
ANNA (cold anger): Get out. Now.
"""

DEFAULTS = {
    "script": "I can't believe you did this to me.",
    "context": "Her best friend just admitted reading her diary.",
    "emotion": "Hurt, turning into anger",
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--gallery" in argv:
        from . import gallery

        return gallery.main([a for a in argv if a != "--gallery"])
    parser = argparse.ArgumentParser(prog="./kff demo", description=__doc__.splitlines()[0])
    parser.add_argument("--script", default=DEFAULTS["script"])
    parser.add_argument("--context", default=DEFAULTS["context"])
    parser.add_argument("--emotion", default=DEFAULTS["emotion"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--intensity", type=float, default=1.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--dialogue", help="a dialogue scene file (one line per row), or 'sample'")
    parser.add_argument("--speaker", default="", help="with --dialogue: perform only this speaker's lines")
    parser.add_argument("--out", default=str(ROOT / "out"))
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    import bpy
    import numpy as np

    load_extension()
    from . import pictures

    anim_compat = extension_module("keyframeface_addon.anim_compat")
    takes = extension_module("keyframeface_addon.takes")
    channels = extension_module("keyframeface_addon.writers.channels")
    from model_runtime.formats.llf_csv import write_track_llf_csv

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = args.fps
    scene.render.fps_base = 1.0
    bpy.ops.keyframeface.demo_head()
    head = bpy.context.active_object
    settings = scene.keyframeface
    settings.script, settings.context, settings.emotion = args.script, args.context, args.emotion
    settings.seed, settings.intensity, settings.start_frame = args.seed, args.intensity, 1
    if args.dialogue:
        text = SAMPLE_SCENE if args.dialogue == "sample" else Path(args.dialogue).read_text(encoding="utf-8")
        settings.dialogue_text = bpy.data.texts.new("dialogue")
        settings.dialogue_text.write(text)
        settings.dialogue_speaker = args.speaker
        generate = bpy.ops.keyframeface.generate_dialogue
    else:
        generate = bpy.ops.keyframeface.generate
    if "FINISHED" not in generate():
        print("demo: generation failed (see the report above)", file=sys.stderr)
        return 1

    key = head.data.shape_keys
    action = key.animation_data.action
    track = takes.track_of(action)
    files = {}
    files["track"] = out / "track.json"
    track.save(files["track"])
    files["llf"] = out / "performance_60fps.csv"
    write_track_llf_csv(files["llf"], track, 60)

    fps = channels.scene_fps(scene)
    start = settings.start_frame
    key_frames = [start + round(k.time * fps) for k in track.keyframes]
    # Plot what Blender plays (the take plus the lip-sync track), with dots at the keys.
    key_frames_by_channel: dict[str, set[int]] = {}
    for action in [action, *(bpy.data.actions[n] for n in action.get("keyframeface_layer_actions", "").split(",") if n)]:
        if action.name.endswith(" rest"):
            continue
        for fcurve in anim_compat.all_fcurves(action):
            channel = fcurve.data_path.split('"')[1]
            key_frames_by_channel.setdefault(channel, set()).update(int(round(p.co[0])) for p in fcurve.keyframe_points)
    dense = np.arange(start, max(key_frames) + 12)
    played = {name: [] for name in key_frames_by_channel}
    for frame in dense:
        scene.frame_set(int(frame))
        for name in played:
            played[name].append(key.key_blocks[name].value if name in key.key_blocks else key[name])
    curves = {}
    for name, values in played.items():
        values = np.array(values)
        marks = np.array(sorted(f for f in key_frames_by_channel[name] if dense[0] <= f <= dense[-1]))
        curves[name] = (dense, values, marks, values[marks - dense[0]])
    files["curves"] = out / "curves.png"
    lines = track.analysis.get("lines")
    if lines:
        markers = [(start + round(line["start"] * fps), f"L{i + 1} {line['speaker']}".strip())
                   for i, line in enumerate(lines)]
        title = f"Dialogue scene: {sum(l['performed'] for l in lines)} of {len(lines)} lines performed"
    else:
        markers = [(f, k.label) for f, k in zip(key_frames, track.keyframes)]
        title = f'"{track.script}"  ({track.emotion})'
    pictures.curve_plot(curves, markers, files["curves"], title)

    pictures.setup_camera(scene, head)
    with tempfile.TemporaryDirectory() as temporary:
        renders = pictures.render_frames(scene, key_frames, Path(temporary))
        files["contact_sheet"] = out / "contact_sheet.png"
        pictures.contact_sheet(
            renders,
            [(f"frame {f} · {k.label}", k.description) for f, k in zip(key_frames, track.keyframes)],
            files["contact_sheet"],
            title,
        )
    scene.frame_set(start)

    files["fbx"] = out / "keyframeface_demo.fbx"
    if "FINISHED" not in bpy.ops.keyframeface.export_fbx(filepath=str(files["fbx"])):
        print("demo: FBX export failed", file=sys.stderr)
        return 1
    files["blend"] = out / "keyframeface_demo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(files["blend"]))

    print(f"\nKeyframeFace demo: {len(track.keyframes)} keyframes over {track.duration:.2f} s ({track.backend} backend)")
    for keyframe, frame in zip(track.keyframes, key_frames):
        print(f"  frame {frame:4d}  {keyframe.label:9s} {keyframe.description}")
    for note in track.notes:
        print(f"  note: {note}")
    labels = {"blend": ".blend", "fbx": "FBX", "track": "track JSON", "llf": "Live Link Face CSV",
              "curves": "curve plot", "contact_sheet": "contact sheet"}
    print()
    for name, path in files.items():
        print(f"  {labels[name]:20s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
