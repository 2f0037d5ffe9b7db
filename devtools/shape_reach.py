"""How far each ARKit shape of the real heads moves the face at full weight.

``.venv/bin/python -m devtools.shape_reach [--shapes a,b]``: for every head in
../shared/assets/heads, the largest vertex movement of each mapped shape key at 1.0, as a
percentage of the distance between the eyes (the centres of what the blink shapes move), so
heads of any scale compare. Tells a weak shape on a head (its own sculpt) from values we write
too timidly: a shape that moves little here looks faint whatever the performance asks.
"""

from __future__ import annotations

import argparse
import sys

from .blender_env import extension_module
from .gallery import face_mesh, feature_centre, heads_to_measure, load_head

DEFAULT_SHAPES = ("browDownLeft", "browInnerUp", "browOuterUpLeft", "eyeWideLeft", "eyeSquintLeft", "eyeBlinkLeft",
                  "cheekSquintLeft", "noseSneerLeft", "mouthUpperUpLeft", "mouthFrownLeft", "mouthShrugLower",
                  "mouthStretchLeft", "mouthPressLeft", "mouthSmileLeft", "jawOpen")


def shape_reach(mesh, names) -> dict[str, float]:
    """Largest movement of each shape at full weight, in percent of the eye distance (absent
    shapes are left out)."""
    import numpy as np

    shapes = extension_module("keyframeface_addon.rig").map_mesh(mesh).shapes
    keys = mesh.data.shape_keys.key_blocks
    flat = np.empty(len(mesh.data.vertices) * 3)
    keys[0].data.foreach_get("co", flat)
    basis = flat.reshape(-1, 3)
    left, right = (feature_centre(mesh, basis, shapes, name) for name in ("eyeBlinkLeft", "eyeBlinkRight"))
    if left is None or right is None:
        raise RuntimeError(f"{mesh.name}: no blink shapes to measure the eye distance from")
    # Object space throughout: the object's scale applies to movement and eye distance alike.
    eyes = float(np.linalg.norm(left - right))
    reach = {}
    moved = np.empty(basis.size)
    for name in names:
        if name in shapes:
            keys[shapes[name]].data.foreach_get("co", moved)
            reach[name] = 100.0 * float(np.linalg.norm(moved.reshape(-1, 3) - basis, axis=1).max()) / eyes
    return reach


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.shape_reach", description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default=",".join(DEFAULT_SHAPES), help="comma-separated ARKit names")
    names = [n for n in parser.parse_args(argv).shapes.split(",") if n]
    heads = heads_to_measure()
    if not heads:
        return 1
    table = {head: shape_reach(face_mesh(load_head(head)), names) for head in heads}
    print("largest movement at full weight, % of the distance between the eyes")
    print(f"{'shape':<20}" + "".join(f"{head.split('.')[0][:24]:>26}" for head in heads))
    for name in names:
        print(f"{name:<20}" + "".join(f"{table[h][name]:>26.1f}" if name in table[h] else f"{'-':>26}" for h in heads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
