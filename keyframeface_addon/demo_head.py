"""Adds the procedural demo head to a scene: one mesh, 52 ARKit shape keys, simple materials."""

from __future__ import annotations

import bpy
import numpy as np

from ..model_runtime.arkit import BLENDSHAPES
from .demo_head_geometry import MATERIALS, ShapeBuilder, build_mesh

DEMO_HEAD_NAME = "KeyframeFace Demo Head"
DEMO_TAG = "keyframeface_demo_head"


def _material(name: str, colour) -> bpy.types.Material:
    material = bpy.data.materials.get(name)
    if material is None:
        material = bpy.data.materials.new(name)
    # Workbench shows the viewport colour; Cycles and EEVEE read the Principled BSDF.
    material.diffuse_color = colour
    material.roughness = 0.6
    tree = getattr(material, "node_tree", None)
    if tree is None and hasattr(material, "use_nodes"):
        material.use_nodes = True
        tree = material.node_tree
    if tree is not None:
        for node in tree.nodes:
            if node.type == "BSDF_PRINCIPLED":
                node.inputs["Base Color"].default_value = colour
                node.inputs["Roughness"].default_value = 0.55
    return material


def add_demo_head(collection: bpy.types.Collection, location=(0.0, 0.0, 0.0)) -> bpy.types.Object:
    """Create the head in ``collection`` and return its object."""
    geometry = build_mesh()
    vertices, faces, face_materials, _, _ = geometry.arrays()
    shapes = ShapeBuilder(geometry).shapes()

    mesh = bpy.data.meshes.new(DEMO_HEAD_NAME)
    mesh.from_pydata(vertices.tolist(), [], faces)
    for index in sorted(MATERIALS):
        mesh.materials.append(_material(*MATERIALS[index]))
    mesh.polygons.foreach_set("material_index", face_materials.astype(np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    mesh.update()

    obj = bpy.data.objects.new(DEMO_HEAD_NAME, mesh)
    obj.location = location
    obj[DEMO_TAG] = True
    collection.objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    for name in BLENDSHAPES:
        block = obj.shape_key_add(name=name, from_mix=False)
        block.data.foreach_set("co", shapes[name].astype(np.float32).ravel())
        block.slider_min, block.slider_max = 0.0, 1.0
        block.value = 0.0
    mesh.shape_keys.name = f"{DEMO_HEAD_NAME} Key"
    return obj
