"""Blender-side core: settings, preferences, rig mapping, takes, the keyframe writers
(``writers/``), the demo head, FBX export. Operators and panels call into these modules; nothing here draws UI."""

import bpy

from . import preferences, properties

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(properties.CLASSES + preferences.CLASSES)


def register():
    _register_classes()
    properties.register()


def unregister():
    properties.unregister()
    _unregister_classes()
