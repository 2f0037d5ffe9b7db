"""Machine-wide settings (Edit > Preferences > Add-ons > KeyframeFace)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty

from ..model_runtime.backends import available_backends


def addon_package() -> str:
    """The extension's package name (``bl_ext.<repository>.keyframeface``)."""
    return __package__.rpartition(".")[0]


def _backend_items(self, context):
    return [(info.name, info.label, info.description) for info in available_backends()]


class KeyframeFacePreferences(bpy.types.AddonPreferences):
    bl_idname = addon_package()

    backend: EnumProperty(
        name="Backend",
        description="Which model plans and solves the performance",
        items=_backend_items,
    )
    add_markers: BoolProperty(
        name="Timeline Markers",
        description="Add a timeline marker with the label and description of each generated keyframe",
        default=True,
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "backend")
        layout.prop(self, "add_markers")


def preferences(context) -> KeyframeFacePreferences | None:
    addon = context.preferences.addons.get(addon_package())
    return addon.preferences if addon else None


CLASSES = (KeyframeFacePreferences,)
