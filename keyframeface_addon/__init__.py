"""Blender-side core: settings, preferences, rig mapping, the keyframe writer, the demo head,
FBX export. Operators and panels call into these modules; nothing here draws UI."""

import bpy

from . import preferences, properties

_CLASSES = properties.CLASSES + preferences.CLASSES


def register():
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    properties.register()


def unregister():
    properties.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
