# SPDX-License-Identifier: GPL-3.0-or-later
"""KeyframeFace: text, context and emotion in; sparse, labelled ARKit shape-key keyframes out.

This module only registers. Everything else is imported inside register() so that the
bpy-free ``model_runtime`` package can be used (and tested) without Blender.
"""


def register():
    from . import keyframeface_addon, operators, panels

    keyframeface_addon.register()
    operators.register()
    panels.register()


def unregister():
    from . import keyframeface_addon, operators, panels

    panels.unregister()
    operators.unregister()
    keyframeface_addon.unregister()
