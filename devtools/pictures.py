"""Pictures of a generated take: a contact sheet of the head at each keyframe (headless
Workbench renders) and a plot of the F-curves as Blender plays them."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector


def setup_camera(scene, target: bpy.types.Object, width: int = 360, height: int = 430, distance: float = 2.4) -> None:
    """A portrait camera framing ``target``'s head, Workbench with material colours."""
    corners = [target.matrix_world @ Vector(c) for c in target.bound_box]
    centre = sum(corners, Vector()) / 8.0
    size = max((max(c[i] for c in corners) - min(c[i] for c in corners)) for i in range(3))
    camera = bpy.data.objects.get("KFF Camera")
    if camera is None:
        camera = bpy.data.objects.new("KFF Camera", bpy.data.cameras.new("KFF Camera"))
        scene.collection.objects.link(camera)
    camera.data.lens = 85
    distance = size * distance
    yaw = math.radians(12)
    camera.location = centre + Vector((distance * math.sin(yaw), -distance * math.cos(yaw), size * 0.08))
    direction = centre - camera.location
    camera.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
    scene.camera = camera
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "MATERIAL"
    shading.show_cavity = True
    shading.cavity_type = "WORLD"
    scene.render.resolution_x = width
    scene.render.resolution_y = height
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "PNG"


def render_frames(scene, frames: list[int], directory: Path) -> list[Path]:
    paths = []
    for frame in frames:
        scene.frame_set(frame)
        path = directory / f"frame_{frame:04d}.png"
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True)
        paths.append(path)
    return paths


def contact_sheet(images: list[Path], captions: list[tuple[str, str]], path: Path, title: str) -> None:
    """Grid of renders, each captioned with a heading and a wrapped description."""
    from PIL import Image, ImageDraw, ImageFont

    tiles = [Image.open(p).convert("RGB") for p in images]
    w, h = tiles[0].size
    columns = min(4, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    caption_height = 120
    header = 48
    sheet = Image.new("RGB", (columns * w, header + rows * (h + caption_height)), "white")
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.load_default(size=13)
        bold = ImageFont.load_default(size=16)
    except TypeError:
        font = bold = ImageFont.load_default()
    draw.text((10, 12), title, fill="black", font=bold)
    for i, (tile, (heading, description)) in enumerate(zip(tiles, captions)):
        x = (i % columns) * w
        y = header + (i // columns) * (h + caption_height)
        sheet.paste(tile, (x, y))
        draw.text((x + 6, y + h + 4), heading, fill="black", font=bold)
        for j, line in enumerate(textwrap.wrap(description, max(24, w // 7))[:6]):
            draw.text((x + 6, y + h + 24 + j * 14), line, fill=(40, 40, 40), font=font)
    sheet.save(path)


def curve_plot(curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
               markers: list[tuple[int, str]], path: Path, title: str) -> None:
    """``curves``: name -> (dense frames, values Blender plays, key frames, key values),
    drawn by face region with the semantic keyframes as vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from model_runtime.arkit import is_pose, region_of

    groups: dict[str, list[str]] = {}
    for name in curves:
        group = "Head & Eyes (pose)" if is_pose(name) else region_of(name)
        groups.setdefault(group, []).append(name)
    order = [g for g in ("Brows", "Eyes", "Cheeks", "Nose", "Jaw", "Mouth", "Tongue", "Head & Eyes (pose)") if g in groups]
    fig, axes = plt.subplots(len(order), 1, figsize=(12, 2.1 * len(order) + 0.8), sharex=True, squeeze=False)
    for axis, group in zip(axes[:, 0], order):
        names = sorted(groups[group], key=lambda n: -np.abs(curves[n][1]).max())
        for name in names[:10]:
            frames, values, key_frames, key_values = curves[name]
            line, = axis.plot(frames, values, linewidth=1.3, label=name)
            axis.plot(key_frames, key_values, "o", markersize=3, color=line.get_color())
        for frame, label in markers:
            axis.axvline(frame, color="0.6", linewidth=0.8, linestyle="--")
        axis.set_ylabel(group, fontsize=9)
        axis.set_ylim(-1.02 if group.startswith("Head") else -0.02, 1.02)
        axis.legend(fontsize=7, loc="upper right", ncol=2, framealpha=0.8)
        axis.grid(alpha=0.25)
    top = axes[0, 0]
    for frame, label in markers:
        top.text(frame, 1.05, label, rotation=0, fontsize=8, ha="center", va="bottom", color="0.25")
    axes[-1, 0].set_xlabel("frame")
    fig.suptitle(title, fontsize=11, y=0.995)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
