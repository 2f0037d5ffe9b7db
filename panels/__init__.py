"""Sidebar UI (View3D > Sidebar > KeyframeFace). Panels only draw."""

import bpy

from .sidebar import (
    KEYFRAMEFACE_UL_mapping,
    KEYFRAMEFACE_UL_takes,
    VIEW3D_PT_keyframeface_curve_tools,
    VIEW3D_PT_keyframeface_dialogue,
    VIEW3D_PT_keyframeface_files,
    VIEW3D_PT_keyframeface_generate,
    VIEW3D_PT_keyframeface_rig,
    VIEW3D_PT_keyframeface_take,
    VIEW3D_PT_keyframeface_takes,
)

CLASSES = (KEYFRAMEFACE_UL_takes, KEYFRAMEFACE_UL_mapping, VIEW3D_PT_keyframeface_generate, VIEW3D_PT_keyframeface_takes,
           VIEW3D_PT_keyframeface_take, VIEW3D_PT_keyframeface_dialogue, VIEW3D_PT_keyframeface_rig,
           VIEW3D_PT_keyframeface_files, VIEW3D_PT_keyframeface_curve_tools)


register, unregister = bpy.utils.register_classes_factory(CLASSES)
