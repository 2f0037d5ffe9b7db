"""Machine-wide settings (Edit > Preferences > Add-ons > KeyframeFace).

Preferences live in Blender's user preferences, never in a .blend: URLs, tokens and API keys
stay on this machine. A key can also come from an environment variable instead.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..model_runtime.backends import available_backends, backend_info
from ..model_runtime.backends.options import BackendOption


def addon_package() -> str:
    """The extension's package name (``bl_ext.<repository>.keyframeface``)."""
    return __package__.rpartition(".")[0]


def _backend_items(self, context):
    return [(info.name, info.label, info.description) for info in available_backends()]


def option_property(option: BackendOption):
    """The preference property for a declared backend option."""
    common = {"name": option.label, "description": option.description}
    if option.kind == "choice":
        return EnumProperty(items=[(c.value, c.label, c.description) for c in option.choices],
                            default=option.default, **common)
    bounds = {key: value for key, value in (("min", option.minimum), ("max", option.maximum)) if value is not None}
    if option.kind == "float":
        return FloatProperty(default=option.default or 0.0, **bounds, **common)
    if option.kind == "int":
        return IntProperty(default=option.default or 0, **bounds, **common)
    if option.kind == "bool":
        return BoolProperty(default=bool(option.default), **common)
    subtype = "PASSWORD" if option.secret else "DIR_PATH" if option.kind == "folder" else "NONE"
    return StringProperty(default=option.default or "", subtype=subtype, **common)


def backend_preferences() -> dict[str, BackendOption]:
    """``{property name: option}`` for every declared option that has a preference; backends
    sharing a property (``timeout``) must declare it alike."""
    properties: dict[str, BackendOption] = {}
    for info in available_backends():
        for option in info.options:
            if option.preference is None:
                continue
            other = properties.setdefault(option.preference, option)
            if other.kind != option.kind or other.default != option.default:
                raise ValueError(f"preference {option.preference} is declared differently by two backends")
    return properties


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
        from .backend_settings import backend_problem
        from .ui_text import draw_wrapped

        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "backend")
        layout.prop(self, "add_markers")
        box = layout.box()
        info = backend_info(self.backend)
        shown = [option.preference for option in info.options if option.preference]
        for name in shown:
            box.prop(self, name)
        if not shown:
            draw_wrapped(box, info.description, 90)
        problem = backend_problem(self)
        if problem:
            draw_wrapped(box, problem, 90)


# The backends' settings, generated from their declared options (model_runtime/backends).
KeyframeFacePreferences.__annotations__.update(
    {name: option_property(option) for name, option in backend_preferences().items()})


def preferences(context) -> KeyframeFacePreferences | None:
    addon = context.preferences.addons.get(addon_package())
    return addon.preferences if addon else None


CLASSES = (KeyframeFacePreferences,)
