"""Operators: thin wrappers that validate, call the core in ``keyframeface_addon``, and report."""

import bpy

from .dialogue import KEYFRAMEFACE_OT_generate_dialogue
from .demo_head import KEYFRAMEFACE_OT_demo_head
from .export_fbx import KEYFRAMEFACE_OT_export_fbx
from .generate import KEYFRAMEFACE_OT_generate, KEYFRAMEFACE_OT_speak_line
from . import curve_tools, interchange, keyframes, rig, takes

CLASSES = (KEYFRAMEFACE_OT_generate, KEYFRAMEFACE_OT_speak_line, KEYFRAMEFACE_OT_generate_dialogue, KEYFRAMEFACE_OT_demo_head, KEYFRAMEFACE_OT_export_fbx,
           *interchange.CLASSES, *curve_tools.CLASSES, *takes.CLASSES, *keyframes.CLASSES, *rig.CLASSES)


_register, _unregister = bpy.utils.register_classes_factory(CLASSES)


def register():
    _register()
    bpy.types.GRAPH_MT_key.append(curve_tools.draw_graph_menu)


def unregister():
    bpy.types.GRAPH_MT_key.remove(curve_tools.draw_graph_menu)
    _unregister()
