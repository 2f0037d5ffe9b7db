"""Static ARKit poses rendered on each real head, one contact sheet per head.

``.venv/bin/python -m devtools.pose_sheet [--poses poses.json] [--out DIR] [--size WxH]``:
every pose (a name and ARKit weights; shape keys only, no head pose) is set directly on the
head's shape keys and rendered as the gallery renders (same framing). Answers what a
combination of shapes looks like on the heads before it goes into the emotion data: the
built-in set shows why sadness lowers its brows only a little (browDown at half of
browInnerUp renders the lifted inner brows flat) and what disgust reads by (the upper lip
raised over a pushed-up lower lip with the cheeks up; the nose wrinkle alone barely shows).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from .blender_env import ROOT, extension_module
from .gallery import _frame_the_face, face_mesh, heads_to_measure, load_head


def _both(prefix: str, value: float) -> dict[str, float]:
    return {f"{prefix}Left": value, f"{prefix}Right": value}


POSES = {
    "neutral": {},
    "inner up": {"browInnerUp": 1.0},
    "inner up, down .25": {"browInnerUp": 1.0, **_both("browDown", 0.25)},
    "inner up, down .5": {"browInnerUp": 1.0, **_both("browDown", 0.5)},
    "sad": {"browInnerUp": 0.9, **_both("browDown", 0.15), **_both("eyeBlink", 0.3), **_both("eyeLookDown", 0.4),
            **_both("mouthFrown", 0.8), "mouthShrugLower": 0.7, "mouthShrugUpper": 0.2},
    "nose wrinkle": _both("noseSneer", 1.0),
    "upper lip up": _both("mouthUpperUp", 1.0),
    "disgust": {**_both("noseSneer", 0.7), **_both("mouthUpperUp", 0.7), **_both("cheekSquint", 0.7),
                **_both("eyeSquint", 0.45), **_both("browDown", 0.4), **_both("mouthFrown", 0.3),
                "mouthShrugLower": 0.7, "mouthShrugUpper": 0.2},
}


def render_poses(head_name: str, poses: dict[str, dict[str, float]], out: Path, width: int, height: int) -> Path:
    import bpy

    from . import pictures

    target = load_head(head_name)
    rig = extension_module("keyframeface_addon.rig").find_rig(target)
    face = face_mesh(target)
    scene = bpy.context.scene
    pictures.setup_camera(scene, face, width, height)
    _frame_the_face(scene.camera, face)
    renders, captions = [], []
    with tempfile.TemporaryDirectory() as temporary:
        for i, (name, weights) in enumerate(poses.items()):
            for mesh in rig.meshes:
                blocks = mesh.obj.data.shape_keys.key_blocks
                for arkit, shape in mesh.shapes.items():
                    blocks[shape].value = float(weights.get(arkit, 0.0))
            path = Path(temporary) / f"pose_{i:02d}.png"
            scene.render.filepath = str(path)
            bpy.ops.render.render(write_still=True)
            renders.append(path)
            captions.append((name, ", ".join(f"{shape} {value:g}" for shape, value in weights.items())))
        sheet = out / f"poses_{Path(head_name).stem}.png"
        pictures.contact_sheet(renders, captions, sheet, f"ARKit poses on {head_name}")
    return sheet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.pose_sheet", description=__doc__.splitlines()[0])
    parser.add_argument("--poses", default="", help="JSON file: {name: {ARKit shape: weight}} (default: the built-in set)")
    parser.add_argument("--out", default=str(ROOT / "out" / "poses"))
    parser.add_argument("--size", default="200x240", help="render size per pose, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    poses = json.loads(Path(args.poses).read_text()) if args.poses else POSES
    width, height = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    heads = heads_to_measure()
    for head in heads:
        print(f"  poses  {render_poses(head, poses, out, width, height)}")
    return 0 if heads else 1


if __name__ == "__main__":
    sys.exit(main())
