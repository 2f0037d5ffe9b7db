"""The sidebar panels and lists (draw only): generate, keyframes, takes, dialogue, rig, files, curves."""

import textwrap

import bpy

from ..keyframeface_addon.backend_settings import backend_problem
from ..keyframeface_addon.jobs import RUNNING
from ..keyframeface_addon.preferences import preferences
from ..keyframeface_addon.ui_text import draw_wrapped
from ..keyframeface_addon.rig import find_rig, has_head_bone
from ..keyframeface_addon.takes import Take, active_take, layer_track, takes_of
from ..keyframeface_addon.writers.channels import scene_fps


def version_notes() -> list[str]:
    """What this Blender lacks that the add-on would otherwise use."""
    notes = []
    if bpy.app.version < (4, 4, 0):
        notes.append("Blender < 4.4: one action per mesh for each take (no action slots)")
    if bpy.app.version < (5, 0, 0):
        notes.append("Blender < 5.0: ASCII FBX heads cannot be imported (binary FBX works)")
    return notes


class _SidebarPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "KeyframeFace"


class VIEW3D_PT_keyframeface_generate(_SidebarPanel, bpy.types.Panel):
    bl_label = "KeyframeFace"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.keyframeface
        column = layout.column(align=True)
        column.prop(settings, "script", text="")
        column.label(text="Context")
        column.prop(settings, "context", text="")
        column.label(text="Emotion")
        column.prop(settings, "emotion", text="")
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(settings, "intensity")
        layout.prop(settings, "seed")
        row = layout.row(heading="Start")
        row.prop(settings, "use_playhead")
        sub = layout.row()
        sub.active = not settings.use_playhead
        sub.prop(settings, "start_frame")
        row = layout.row(heading="Range")
        row.prop(settings, "fit_to_range", text="Fit")
        sub = row.row()
        sub.active = settings.fit_to_range
        sub.prop(settings, "range_end", text="End")
        layout.prop(settings, "write_mode")
        _draw_audio(layout, context.scene, settings)
        layout.use_property_split = False
        row = layout.row(align=True)
        row.operator("keyframeface.generate", icon="SHAPEKEY_DATA")
        row.operator("keyframeface.speak_line", icon="PLAY_SOUND")
        row = layout.row(align=True)
        row.operator("keyframeface.demo_head", icon="USER")
        row.operator("keyframeface.export_fbx", icon="EXPORT")
        _draw_backend_state(layout, context)


def _draw_audio(layout, scene, settings):
    """The recording that times the line: a file or a sound strip of the scene."""
    layout.prop(settings, "audio_source")
    if settings.audio_source == "FILE":
        layout.prop(settings, "audio_file")
    elif settings.audio_source == "STRIP":
        editor = scene.sequence_editor
        if editor is None:
            layout.label(text="The scene has no sound strips", icon="INFO")
        else:
            collection = "strips_all" if hasattr(editor, "strips_all") else "sequences_all"
            layout.prop_search(settings, "audio_strip", editor, collection, icon="SOUND")
    layout.prop(settings, "audio_lead")


def _draw_backend_state(layout, context):
    """Which backend runs, why it cannot, and what is running now."""
    prefs = preferences(context)
    for job in RUNNING:
        layout.label(text=f"{job.label.capitalize()}... {job.elapsed:.0f} s (Esc cancels)", icon="SORTTIME")
    if prefs is None or prefs.backend == "builtin":
        return
    column = layout.column(align=True)
    column.label(text=f"Backend: {prefs.bl_rna.properties['backend'].enum_items[prefs.backend].name}", icon="NETWORK_DRIVE")
    problem = backend_problem(prefs)
    if problem:
        draw_wrapped(column, problem, 44)


class VIEW3D_PT_keyframeface_take(_SidebarPanel, bpy.types.Panel):
    bl_label = "Keyframes"
    bl_parent_id = "VIEW3D_PT_keyframeface_generate"

    @classmethod
    def poll(cls, context):
        rig = find_rig(context.active_object)
        return bool(rig.meshes) and active_take(rig) is not None

    def draw(self, context):
        rig = find_rig(context.active_object)
        take = active_take(rig)
        track = take.track
        layout = self.layout
        layout.label(text=take.name, icon="ACTION")
        lipsync = layer_track(rig.primary.key, "lipsync")
        if lipsync is not None:
            layout.prop(lipsync, "mute", text="Mute Lip Sync Layer", icon="SPEAKER")
        if track is None:
            return
        fps = scene_fps(context.scene)
        width = max(20, (context.region.width if context.region else 300) // 7)
        for index, keyframe in enumerate(track.keyframes):
            box = layout.box()
            row = box.row(align=True)
            row.label(text=f"{take.keyframe_frame(track, index, fps)}  {keyframe.label}", icon="KEYFRAME")
            earlier = row.operator("keyframeface.keyframe_nudge", text="", icon="TRIA_LEFT")
            earlier.index, earlier.frames = index, -1
            later = row.operator("keyframeface.keyframe_nudge", text="", icon="TRIA_RIGHT")
            later.index, later.frames = index, 1
            row.operator("keyframeface.keyframe_resolve", text="", icon="GREASEPENCIL").index = index
            row.operator("keyframeface.keyframe_regenerate", text="", icon="FILE_REFRESH").index = index
            for line in textwrap.wrap(keyframe.description, width):
                box.label(text=line)


class VIEW3D_PT_keyframeface_dialogue(_SidebarPanel, bpy.types.Panel):
    bl_label = "Dialogue Scene"
    bl_parent_id = "VIEW3D_PT_keyframeface_generate"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.keyframeface
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(settings, "dialogue_text")
        layout.prop(settings, "dialogue_speaker")
        layout.prop(settings, "dialogue_gap")
        layout.prop(settings, "use_sound_strips")
        layout.use_property_split = False
        column = layout.column(align=True)
        for hint in ("Rows: SPEAKER (emotion): line", "[pause 1.5]  [at 240]  [id clip_name]"):
            column.label(text=hint)
        layout.operator("keyframeface.generate_dialogue", icon="SPEAKER")


class KEYFRAMEFACE_UL_mapping(bpy.types.UIList):
    """ARKit shape -> shape key rows of one mesh's mapping."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        key = data.id_data.data.shape_keys
        row = layout.split(factor=0.45)
        row.label(text=item.arkit, icon="CHECKMARK" if item.shape else "BLANK1")
        if key is not None:
            row.prop_search(item, "shape", key, "key_blocks", text="")
        else:
            row.prop(item, "shape", text="")


class VIEW3D_PT_keyframeface_rig(_SidebarPanel, bpy.types.Panel):
    bl_label = "Rig"
    bl_parent_id = "VIEW3D_PT_keyframeface_generate"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        if obj is None:
            layout.label(text="Select the head", icon="INFO")
            return
        found = find_rig(obj)
        settings = obj.keyframeface_rig
        row = layout.row(align=True)
        row.prop(settings, "preset", text="")
        row.operator("keyframeface.mapping_detect", text="Detect", icon="VIEWZOOM")
        row.operator("keyframeface.mapping_clear", text="", icon="X")
        if found.stale:
            box = layout.box()
            box.label(text="Mapped shapes that no longer exist:", icon="ERROR")
            for entry in found.stale[:6]:
                box.label(text=entry)
        if not found.meshes:
            layout.label(text="No ARKit shape keys on the selection", icon="INFO")
        else:
            layout.label(text=f"{len(found.covered)}/52 ARKit shapes", icon="CHECKMARK" if not found.missing else "ERROR")
            for mesh in found.meshes:
                layout.label(text=f"{mesh.obj.name}: {len(mesh.shapes)}", icon="MESH_DATA")
            if found.missing:
                layout.label(text="Dropped when generating: " + ", ".join(found.missing[:4]) + ("..." if len(found.missing) > 4 else ""))
        if obj.type == "MESH" and len(settings.mapping):
            layout.template_list("KEYFRAMEFACE_UL_mapping", "", settings, "mapping", settings, "mapping_index", rows=6)
        row = layout.row(align=True)
        row.operator("keyframeface.mapping_import", text="Import", icon="IMPORT")
        row.operator("keyframeface.mapping_export", text="Export", icon="EXPORT")
        box = layout.box()
        box.label(text="Head & eye pose", icon="BONE_DATA")
        box.prop(settings, "armature")
        if settings.armature is not None:
            for name in ("head_bone", "left_eye_bone", "right_eye_bone"):
                box.prop_search(settings, name, settings.armature.data, "bones")
        if not has_head_bone(settings):
            box.prop(settings, "head_object")
        if settings.armature is None and settings.head_object is None:
            box.label(text="Without bones or a head object, pose is only custom properties (headYaw...)")
        for note in version_notes():
            layout.label(text=note, icon="INFO")


class VIEW3D_PT_keyframeface_files(_SidebarPanel, bpy.types.Panel):
    bl_label = "Capture & Files"
    bl_parent_id = "VIEW3D_PT_keyframeface_generate"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        column = layout.column(align=True)
        column.operator("keyframeface.import_llf_csv", text="Import Live Link Face CSV", icon="IMPORT")
        column.operator("keyframeface.export_llf_csv", text="Export Live Link Face CSV", icon="EXPORT")
        column = layout.column(align=True)
        column.operator("keyframeface.import_keyframeface_json", text="Import KeyframeFace JSON", icon="IMPORT")
        column.operator("keyframeface.export_keyframeface_json", text="Export KeyframeFace JSON", icon="EXPORT")
        layout.operator("keyframeface.export_fbx", icon="EXPORT")


class VIEW3D_PT_keyframeface_curve_tools(_SidebarPanel, bpy.types.Panel):
    bl_label = "Curve Tools"
    bl_parent_id = "VIEW3D_PT_keyframeface_generate"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        column = self.layout.column(align=True)
        column.operator("keyframeface.clamp_curves", icon="CON_CLAMPTO")
        column.operator("keyframeface.smooth_curves", icon="SMOOTHCURVE")
        column.operator("keyframeface.reduce_keys", icon="IPO_BEZIER")


class KEYFRAMEFACE_UL_takes(bpy.types.UIList):
    """The takes of the active head (its generated and imported actions)."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        playing = active_take(find_rig(context.active_object)) == Take(item)
        row = layout.row(align=True)
        row.prop(item, "name", text="", emboss=False, icon="PLAY" if playing else "ACTION")
        seed = Take(item).seed
        if seed is not None:
            row.label(text=f"seed {seed}")

    def filter_items(self, context, data, propname):
        actions = getattr(data, propname)
        mine = set(take.name for take in takes_of(find_rig(context.active_object)))
        flags = [self.bitflag_filter_item if a.name in mine else 0 for a in actions]
        return flags, []


class VIEW3D_PT_keyframeface_takes(_SidebarPanel, bpy.types.Panel):
    bl_label = "Takes"
    bl_parent_id = "VIEW3D_PT_keyframeface_generate"

    @classmethod
    def poll(cls, context):
        return bool(find_rig(context.active_object).meshes)

    def draw(self, context):
        layout = self.layout
        row = layout.row()
        row.template_list("KEYFRAMEFACE_UL_takes", "", bpy.data, "actions", context.scene.keyframeface, "take_index", rows=3)
        column = row.column(align=True)
        column.operator("keyframeface.take_duplicate", text="", icon="DUPLICATE")
        column.operator("keyframeface.take_delete", text="", icon="TRASH")
        layout.operator("keyframeface.generate_variations", icon="MOD_ARRAY")
