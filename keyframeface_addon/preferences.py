"""Machine-wide settings (Edit > Preferences > Add-ons > KeyframeFace).

Preferences live in Blender's user preferences, never in a .blend: URLs, tokens and API keys
stay on this machine. A key can also come from an environment variable instead.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..model_runtime.backends import available_backends

PLAN_SOURCES = (
    ("model", "Model", "The model plans the keyframes too (our plan prompt, JSON schema)"),
    ("builtin", "Built-in", "The built-in planner times the keyframes; the model solves them "
                            "(for models trained only to solve, such as the KeyframeFace paper's)"),
)


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
    server_url: StringProperty(
        name="Server URL", description="A KeyframeFace server (python -m model_runtime serve)",
        default="http://127.0.0.1:8765",
    )
    server_token: StringProperty(
        name="Token", description="The server's token (kept in preferences, never in the .blend)",
        subtype="PASSWORD",
    )
    server_token_env: StringProperty(
        name="Token Variable", description="Read the token from this environment variable when the field is empty",
        default="KEYFRAMEFACE_TOKEN",
    )
    openai_base_url: StringProperty(
        name="Endpoint", description="An OpenAI-compatible endpoint: vLLM, llama.cpp server, Ollama, LM Studio, hosted APIs",
        default="http://127.0.0.1:8000/v1",
    )
    openai_model: StringProperty(
        name="Model", description="The model name the endpoint serves (for vLLM with LoRA: the adapter's name)",
    )
    api_key: StringProperty(
        name="API Key", description="Kept in preferences, never in the .blend; leave empty to use the variable below",
        subtype="PASSWORD",
    )
    api_key_env: StringProperty(
        name="Key Variable", description="Read the API key from this environment variable when the field is empty",
        default="OPENAI_API_KEY",
    )
    plan_source: EnumProperty(name="Plan With", items=PLAN_SOURCES, default="model")
    local_model_path: StringProperty(
        name="Model Folder", description="A transformers causal-LM folder on disk (nothing is downloaded)",
        subtype="DIR_PATH",
    )
    timeout: FloatProperty(name="Timeout", description="Seconds to wait for one answer", default=60.0, min=1.0, max=3600.0)
    retries: IntProperty(name="Tries", description="Times to ask before giving up", default=3, min=1, max=10)

    def draw(self, context):
        from .backend_settings import backend_problem
        from .ui_text import draw_wrapped

        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "backend")
        layout.prop(self, "add_markers")
        box = layout.box()
        if self.backend == "server":
            box.prop(self, "server_url")
            box.prop(self, "server_token")
            box.prop(self, "server_token_env")
        elif self.backend == "openai":
            box.prop(self, "openai_base_url")
            box.prop(self, "openai_model")
            box.prop(self, "api_key")
            box.prop(self, "api_key_env")
            box.prop(self, "plan_source")
        elif self.backend == "local":
            box.prop(self, "local_model_path")
            box.prop(self, "plan_source")
        else:
            box.label(text="Built-in: offline, numpy only, milliseconds per line", icon="CHECKMARK")
        if self.backend in ("server", "openai", "local"):
            box.prop(self, "timeout")
            box.prop(self, "retries")
        problem = backend_problem(self)
        if problem:
            draw_wrapped(box, problem, 90)


def preferences(context) -> KeyframeFacePreferences | None:
    addon = context.preferences.addons.get(addon_package())
    return addon.preferences if addon else None


CLASSES = (KeyframeFacePreferences,)
