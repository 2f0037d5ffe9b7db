"""Sidebar UI (View3D > Sidebar > KeyframeFace). Panels only draw."""

import bpy

from .sidebar import VIEW3D_PT_keyframeface_generate, VIEW3D_PT_keyframeface_rig, VIEW3D_PT_keyframeface_take

CLASSES = (VIEW3D_PT_keyframeface_generate, VIEW3D_PT_keyframeface_take, VIEW3D_PT_keyframeface_rig)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
