"""Generation settings, saved with the .blend on each scene as ``scene.keyframeface``."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..model_runtime.arkit import CONVENTIONS
from ..model_runtime.limits import MAX_LEAD_FRAMES
from .audio import AUDIO_SOURCES
from .generation import WRITE_MODES
from .rig import find_rig
from .takes import Take, switch_take, takes_of


def _switch_to_listed_take(settings, context):
    """Picking a take in the panel's list plays it."""
    actions = bpy.data.actions
    if not 0 <= settings.take_index < len(actions):
        return
    rig = find_rig(context.active_object)
    take = Take.of(actions[settings.take_index])
    if take in takes_of(rig):
        switch_take(context.scene, rig, take)


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
    use_playhead: BoolProperty(
        name="At Playhead",
        description="Start the line at the current frame instead of the Start Frame",
    )
    fit_to_range: BoolProperty(
        name="Fit to Range",
        description="Stretch or squeeze the line to end at the Range End frame",
    )
    range_end: IntProperty(
        name="Range End",
        description="Frame where the line ends when fitting it to a range",
        default=100,
    )
    write_mode: EnumProperty(
        name="Write",
        description="Where the generated keys go",
        items=WRITE_MODES,
        default="NEW_TAKE",
    )
    audio_source: EnumProperty(
        name="Audio",
        description="The recording that times the line: its words, pauses and stress drive the keys",
        items=AUDIO_SOURCES,
        default="NONE",
    )
    audio_file: StringProperty(
        name="File",
        description="The line's recording (WAV; FLAC, OGG or MP3 where soundfile is installed)",
        subtype="FILE_PATH",
    )
    audio_strip: StringProperty(
        name="Strip",
        description="The sound strip holding the line's recording; the take starts where it starts",
    )
    audio_lead: IntProperty(
        name="Lead",
        description="Frames the face leads the sound (many animators put the mouth a frame or two early)",
        default=0, min=0, max=MAX_LEAD_FRAMES,
    )
    dialogue_text: bpy.props.PointerProperty(
        name="Text",
        type=bpy.types.Text,
        description="Text block with the dialogue: one line per row, 'SPEAKER (emotion): line', [pause 1.5], [at 240], [id name]",
    )
    dialogue_speaker: StringProperty(
        name="Speaker",
        description="Perform only this speaker's lines (the others' lines take their time while the character listens); empty for every line",
    )
    dialogue_gap: FloatProperty(
        name="Gap",
        description="Silence between consecutive lines",
        default=0.3, min=0.0, max=10.0, unit="TIME_ABSOLUTE", subtype="TIME_ABSOLUTE",
    )
    use_sound_strips: BoolProperty(
        name="Time Lines by Sound Strips",
        description="A sound strip named like a line's id (or its file) sets where the line starts and how long it lasts",
        default=True,
    )
    take_index: IntProperty(
        name="Take",
        description="The take playing on the head (index into the blend file's actions)",
        default=-1,
        update=_switch_to_listed_take,
    )


def _preset_items(self, context):
    items = [("AUTO", "Auto-detect", "Recognise any common ARKit naming (recommended)")]
    return items + [(key.upper(), label, f"Shape keys named in {label}") for key, (label, _) in CONVENTIONS.items()]


class KeyframeFaceMappingItem(bpy.types.PropertyGroup):
    """One ARKit shape and the shape key that plays it on this mesh ('' = not on this rig)."""

    arkit: StringProperty(name="ARKit", description="ARKit blendshape name")
    shape: StringProperty(name="Shape Key", description="Shape key on this mesh that plays the ARKit shape")


def _armature_only(self, obj):
    return obj.type == "ARMATURE"


def _not_an_armature(self, obj):
    # An armature's head turns through its head bone, not as a whole object.
    return obj.type != "ARMATURE"


class KeyframeFaceRigSettings(bpy.types.PropertyGroup):
    """Per-object rig settings, saved with the object: a hand-fixed shape mapping, the bones
    that receive the head and eye pose and, for a head without a head bone, the object the head
    pose turns (a mapped head bone wins over it)."""

    preset: EnumProperty(name="Naming", description="Naming convention used to fill the mapping", items=_preset_items)
    mapping: bpy.props.CollectionProperty(type=KeyframeFaceMappingItem)
    mapping_index: IntProperty(name="Mapping", default=0)
    armature: bpy.props.PointerProperty(name="Armature", type=bpy.types.Object, poll=_armature_only,
                                        description="Armature whose bones receive the head and eye pose")
    head_bone: StringProperty(name="Head Bone", description="Bone turned by headYaw/headPitch/headRoll")
    left_eye_bone: StringProperty(name="Left Eye Bone", description="Bone turned by leftEyeYaw/leftEyePitch (the face's own left)")
    right_eye_bone: StringProperty(name="Right Eye Bone", description="Bone turned by rightEyeYaw/rightEyePitch")
    head_object: bpy.props.PointerProperty(
        name="Head Object", type=bpy.types.Object, poll=_not_an_armature,
        description="Object turned by headYaw/headPitch/headRoll when the head has no head bone: the head mesh "
                    "itself, or an empty it is parented to (it turns about that object's origin). Its delta "
                    "rotation is keyed, so its own rotation and animation still work. A mapped head bone wins")


CLASSES = (KeyframeFaceSettings, KeyframeFaceMappingItem, KeyframeFaceRigSettings)


def register():
    bpy.types.Scene.keyframeface = bpy.props.PointerProperty(type=KeyframeFaceSettings)
    bpy.types.Object.keyframeface_rig = bpy.props.PointerProperty(type=KeyframeFaceRigSettings)


def unregister():
    del bpy.types.Object.keyframeface_rig
    del bpy.types.Scene.keyframeface
