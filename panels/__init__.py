"""Sidebar UI (View3D > Sidebar > KeyframeFace). Panels only draw."""

import bpy

from .sidebar import (
    VIEW3D_PT_keyframeface_curve_tools,
    VIEW3D_PT_keyframeface_files,
    VIEW3D_PT_keyframeface_generate,
    VIEW3D_PT_keyframeface_rig,
    VIEW3D_PT_keyframeface_take,
)

CLASSES = (VIEW3D_PT_keyframeface_generate, VIEW3D_PT_keyframeface_take, VIEW3D_PT_keyframeface_rig,
           VIEW3D_PT_keyframeface_files, VIEW3D_PT_keyframeface_curve_tools)


register, unregister = bpy.utils.register_classes_factory(CLASSES)
