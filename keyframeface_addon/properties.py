"""Generation settings, saved with the .blend on each scene as ``scene.keyframeface``."""

from __future__ import annotations

import bpy
from bpy.props import FloatProperty, IntProperty, StringProperty


class KeyframeFaceSettings(bpy.types.PropertyGroup):
    script: StringProperty(
        name="Script",
        description="The line the character says",
        default="I can't believe you did this to me.",
    )
    context: StringProperty(
        name="Context",
        description="The situation: who, where, what just happened",
        default="Her best friend just admitted reading her diary.",
    )
    emotion: StringProperty(
        name="Emotion",
        description="Free text: one emotion, a blend ('joy mixed with disbelief'), a transition "
                    "('hurt, turning into anger') or a mask ('anxiety concealed by a smile')",
        default="Hurt, turning into anger",
    )
    intensity: FloatProperty(
        name="Intensity",
        description="Scales the expression (not the lip sync)",
        default=1.0, min=0.0, max=2.0, soft_max=1.5,
    )
    seed: IntProperty(
        name="Seed",
        description="Same seed, same take; another seed gives a different, equally valid take",
        default=0, min=0,
    )
    start_frame: IntProperty(
        name="Start Frame",
        description="Frame where the line starts",
        default=1,
    )


CLASSES = (KeyframeFaceSettings,)


def register():
    bpy.types.Scene.keyframeface = bpy.props.PointerProperty(type=KeyframeFaceSettings)


def unregister():
    del bpy.types.Scene.keyframeface
