"""./kff demo --gallery: contrasting lines performed on each head, one contact sheet per head.

Each basic emotion, an empty emotion field with a telling context, the same line whispered,
said and shouted, sarcasm, a mask, a fearful whisper and a line through clenched teeth: every
line is generated onto the head as a take (the extension's own Generate) and rendered
(Workbench, small) at its most expressive spoken moment, expression and lip sync together as
Blender plays them. Heads: the real ARKit heads in ../shared/assets/heads when present, the
demo head otherwise. Made for looking at the acting, not for tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .blender_env import ROOT, extension_module, load_extension

# (script, context, emotion, caption)
LINES = [
    ("We did it, we actually did it.", "The team wins the final.", "overjoyed", "joy"),
    ("He was my brother.", "At the funeral, to a stranger.", "quiet grief", "sadness"),
    ("I told you never to come back here.", "", "furious", "anger"),
    ("Please, someone has to help me.", "", "terrified", "fear"),
    ("You're here? Since when?", "", "astonished", "surprise"),
    ("There is something moving in the soup.", "", "disgusted", "disgust"),
    ("Is that really the best you can do?", "", "contemptuous", "contempt"),
    ("The doctor just called. The tumour is gone.", "A mother sits down on the kitchen floor, phone in hand.", "",
     "empty emotion, telling context"),
    ("We need to leave right now.", "", "whispering", "whispered"),
    ("We need to leave right now.", "", "", "said"),
    ("We need to leave right now.", "", "shouting", "shouted"),
    ("Oh, what a brilliant idea.", "", "sarcastic amusement", "sarcasm"),
    ("I'm fine, really.", "", "anxiety concealed by a restrained smile", "mask"),
    ("Don't move, it can see you.", "", "fearful whisper", "fearful whisper"),
    ("Get out of my house.", "", "through clenched teeth", "clenched teeth"),
    ("I can't believe you did this to me.", "Her best friend read her diary.", "hurt, turning into anger",
     "transition"),
]
HEADS = ("FaceCapHeadGeneric.fbx", "FaceCapLiveModeAvatar.fbx", "Live_Link_Face.blend")
HEADS_DIRECTORY = ROOT.parent / "shared" / "assets" / "heads"
SPOKEN = ("apex", "emphasis", "shift", "question")


def load_head(name: str):
    """Open a fresh scene with one head; returns the object the rig is found from."""
    import bpy

    path = HEADS_DIRECTORY / name
    if name.endswith(".blend"):
        bpy.ops.wm.open_mainfile(filepath=str(path))
        load_extension()
        head = bpy.data.objects["FBHead"]
        head.keyframeface_rig.head_object = head  # no head bone: the mesh itself turns
        return head
    bpy.ops.wm.read_homefile(use_empty=True)
    if hasattr(bpy.ops.wm, "fbx_import"):
        bpy.ops.wm.fbx_import(filepath=str(path))
    else:
        bpy.ops.import_scene.fbx(filepath=str(path))
    meshes = [o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys]
    armature = next((o for o in bpy.data.objects if o.type == "ARMATURE"), None)
    return armature or max(meshes, key=lambda o: len(o.data.shape_keys.key_blocks))


def heads_to_measure() -> list[str]:
    """The real heads present, with the extension loaded in this Blender; none (and a message
    on stderr) when ../shared/assets/heads holds none."""
    import bpy  # noqa: F401  (Blender's own modules, addon_utils among them, come with it)

    load_extension()
    heads = [h for h in HEADS if (HEADS_DIRECTORY / h).exists()]
    if not heads:
        print(f"no heads in {HEADS_DIRECTORY}", file=sys.stderr)
    return heads


def face_mesh(target):
    import bpy

    meshes = [o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys]
    if target.type == "MESH":
        return target
    return max(meshes, key=lambda o: len(o.data.shape_keys.key_blocks))


# Camera distance in face heights: the face fills the frame at contact-sheet size.
CLOSENESS = 2.4
# A face (brows to chin) is about this many eye-to-mouth distances tall, and its middle lies
# this far from the eyes towards the mouth (measured on the FaceCap heads).
FACE_HEIGHT = 2.45
FACE_MIDDLE = 0.45


def feature_centre(mesh, basis, shapes: dict, name: str):
    """Where a shape acts: the mean of the vertices it moves by at least half its largest
    movement (the eye a blink closes, the mouth corner a smile pulls), or None."""
    import numpy as np

    if name not in shapes:
        return None
    moved = np.empty(basis.size)
    mesh.data.shape_keys.key_blocks[shapes[name]].data.foreach_get("co", moved)
    distance = np.linalg.norm(moved.reshape(-1, 3) - basis, axis=1)
    return basis[distance >= 0.5 * distance.max()].mean(axis=0) if distance.max() > 0 else None


def _frame_the_face(camera, mesh) -> None:
    """Aim at the face, the same size on every head: scaled by the distance from the eyes (the
    shapes that blink) to the mouth (the corners that smile), since heads differ in what else
    their mesh holds (a neck, the back of the head, shapes that move the scalp). A head without
    those shapes is framed by the part its shape keys move."""
    import numpy as np
    from mathutils import Vector

    rig = extension_module("keyframeface_addon.rig")
    keys = mesh.data.shape_keys.key_blocks
    count = len(mesh.data.vertices)
    flat = np.empty(count * 3)
    keys[0].data.foreach_get("co", flat)
    basis = flat.reshape(-1, 3)
    mapping = rig.map_mesh(mesh)
    found = [feature_centre(mesh, basis, mapping.shapes if mapping else {}, name)
             for name in ("eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight")]
    if all(point is not None for point in found):
        eyes = mesh.matrix_world @ Vector((found[0] + found[1]) / 2.0)
        mouth = mesh.matrix_world @ Vector((found[2] + found[3]) / 2.0)
        centre, size = eyes.lerp(mouth, FACE_MIDDLE), (eyes - mouth).length * FACE_HEIGHT
    else:
        moved = np.zeros(count, dtype=bool)
        shape = np.empty(count * 3)
        # Movement below a small share of the mesh size is export noise, not the face.
        extent = np.ptp(basis, axis=0).max()
        for block in keys[1:]:
            block.data.foreach_get("co", shape)
            moved |= np.abs(shape.reshape(-1, 3) - basis).max(axis=1) > 0.01 * extent
        if not moved.any():
            return
        points = [mesh.matrix_world @ Vector(p) for p in basis[moved]]
        low = Vector([min(p[i] for p in points) for i in range(3)])
        high = Vector([max(p[i] for p in points) for i in range(3)])
        centre, size = (low + high) / 2.0, max(high - low)
    direction = (camera.location - centre).normalized()
    camera.location = centre + direction * size * CLOSENESS
    camera.rotation_euler = (centre - camera.location).to_track_quat("-Z", "Y").to_euler()


# Shapes that speak rather than emote: left out when finding the expression's apex.
_ARTICULATION = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLowerDown", "mouthRoll", "mouthShrug",
                 "eyeBlink", "eyeLook", "tongueOut")
# Lines whose point is the speaking mouth (delivery), or whose emotion opens the mouth (fear
# stretches it, surprise drops the jaw; between words the lip sync closes it): shown at the
# widest opening instead.
SPEAKING = ("whispered", "said", "shouted", "fearful whisper", "clenched teeth", "fear", "surprise")


def _lip_taken_back(track, times):
    """Whether lip sync takes back part of a clearly raised upper lip at ``times``: a p, b or m
    closing the lips over a disgusted or angry snarl, which the still should not show."""
    import numpy as np

    from model_runtime.curves import evaluate

    channels = track.layers["lipsync"].channels if "lipsync" in track.layers else {}
    key_times = np.array([k.time for k in track.keyframes])
    taken = np.zeros(len(times), dtype=bool)
    for name in ("mouthUpperUpLeft", "mouthUpperUpRight"):
        raised = evaluate(key_times, np.array([k.weights[name] for k in track.keyframes]), times)
        if name in channels:
            keys = np.array(channels[name])
            offset = evaluate(keys[:, 0], keys[:, 1], times)
            taken |= (raised > 0.2) & (-offset > 0.2 * raised)
    return taken


def _moment(track, speaking: bool) -> float:
    """The time to show. For an emotion: the expression's apex between words, the moment the
    face (articulation and blinks left out) is within 80% of its strongest with the mouth least
    open, so the still shows the face, not a syllable. For delivery: the strongest spoken beat,
    moved to the widest mouth opening near it."""
    import numpy as np

    from model_runtime.arkit import BLENDSHAPES, PARAMETERS
    from model_runtime.playback import frame_times, sample

    if not speaking:
        _, times = frame_times(track, 30)
        values = sample(track, times)
        face = [PARAMETERS.index(n) for n in BLENDSHAPES if not n.startswith(_ARTICULATION)]
        energy = np.linalg.norm(values[:, face], axis=1)
        blink = values[:, [PARAMETERS.index("eyeBlinkLeft"), PARAMETERS.index("eyeBlinkRight")]].max(axis=1)
        candidates = np.flatnonzero((energy >= 0.8 * energy.max()) & (blink < 0.3))
        if len(candidates):
            taken = _lip_taken_back(track, times[candidates])
            if not taken.all():
                candidates = candidates[~taken]
            # The mouth least busy speaking: open, rounded or with the lower lip pulled down.
            speech = [PARAMETERS.index(n) for n in ("jawOpen", "mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthLowerDownRight")]
            busy = values[np.ix_(candidates, speech)].sum(axis=1)
            return float(times[candidates[int(np.argmin(busy))]])
    beats = [k for k in track.keyframes if k.label in SPOKEN] or track.keyframes
    apex = max(beats, key=lambda k: float(np.linalg.norm([k.weights[n] for n in BLENDSHAPES])))
    times = np.clip(np.linspace(apex.time - 0.12, apex.time + 0.25, 12), 0.0, track.duration)
    jaw = sample(track, times)[:, PARAMETERS.index("jawOpen")]
    return float(times[int(np.argmax(jaw))])


def perform_gallery(head_name: str, target, out: Path, width: int, height: int, only=()) -> Path:
    import bpy

    from model_runtime.arkit import PARAMETERS
    from model_runtime.playback import sample

    from . import pictures

    takes = extension_module("keyframeface_addon.takes")
    channels = extension_module("keyframeface_addon.writers.channels")
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    bpy.context.view_layer.objects.active = target
    target.select_set(True)
    face = face_mesh(target)
    pictures.setup_camera(scene, face, width, height)
    _frame_the_face(scene.camera, face)
    settings = scene.keyframeface
    renders, captions = [], []
    with tempfile.TemporaryDirectory() as temporary:
        for i, (script, context, emotion, caption) in enumerate(LINES):
            if only and caption not in only:
                continue
            settings.script, settings.context, settings.emotion = script, context, emotion
            settings.seed, settings.intensity, settings.start_frame = 0, 1.0, 1
            if "FINISHED" not in bpy.ops.keyframeface.generate():
                raise RuntimeError(f"generation failed for {script!r}")
            track = takes.track_of(face.data.shape_keys.animation_data.action)
            speaking = caption in SPEAKING
            moment = _moment(track, speaking)
            frame = 1 + round(moment * channels.scene_fps(scene))
            values = sample(track, [moment])[0]
            scene.frame_set(frame)
            path = Path(temporary) / f"line_{i:02d}.png"
            scene.render.filepath = str(path)
            bpy.ops.render.render(write_still=True)
            renders.append(path)
            reading = track.analysis.get("emotion", {}).get("reading", "")
            delivery = track.analysis.get("delivery", {}).get("name", "say")
            captions.append((
                f"{i + 1}. {caption}",
                f'"{script}" emotion: {emotion or "(empty)"}; read {reading}; delivery {delivery}; '
                f"frame {frame} ({'speaking' if speaking else 'apex between words'}); "
                f"jaw {values[PARAMETERS.index('jawOpen')]:.2f}",
            ))
        sheet = out / f"gallery_{Path(head_name).stem}.png"
        pictures.contact_sheet(renders, captions, sheet, f"KeyframeFace acting gallery: {head_name}")
    return sheet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="./kff demo --gallery", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "out" / "gallery"))
    parser.add_argument("--size", default="240x290", help="render size per line, WIDTHxHEIGHT")
    parser.add_argument("--heads", default="", help="comma-separated head files (default: all present)")
    parser.add_argument("--only", default="", help="comma-separated captions (e.g. 'sadness,disgust'; default: all lines)")
    args = parser.parse_args(argv)
    only = tuple(c.strip() for c in args.only.split(",") if c.strip())
    unknown = [c for c in only if c not in {line[3] for line in LINES}]
    if unknown:
        parser.error(f"no gallery line has the caption {', '.join(map(repr, unknown))}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.lower().split("x"))

    import bpy

    load_extension()
    directory = HEADS_DIRECTORY
    wanted = [h for h in args.heads.split(",") if h] or list(HEADS)
    heads = [h for h in wanted if (directory / h).exists()]
    sheets = []
    if not heads:
        bpy.ops.wm.read_homefile(use_empty=True)
        bpy.ops.keyframeface.demo_head()
        sheets.append(perform_gallery("demo head", bpy.context.active_object, out, width, height, only))
    for name in heads:
        if name.endswith(".fbx") and "Generic" in name and not hasattr(bpy.ops.wm, "fbx_import"):
            print(f"gallery: {name} needs Blender 5's FBX importer; skipped", file=sys.stderr)
            continue
        sheets.append(perform_gallery(name, load_head(name), out, width, height, only))
    for sheet in sheets:
        print(f"  gallery  {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
