"""Rig operators: detect or clear the ARKit mapping of a head, and share it as mapping JSON."""

import bpy
from bpy.props import StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..keyframeface_addon import rig
from ..model_runtime.errors import KeyframeFaceError
from ..model_runtime.formats.mapping_json import read_mapping_json, write_mapping_json
from .checks import ExplainsPoll


class _NeedsObject(ExplainsPoll):
    @classmethod
    def problem(cls, context):
        return "Select the head." if context.active_object is None else None


def _meshes_with_keys(obj):
    return [m for m in rig._candidate_meshes(obj) if m.data.shape_keys]


class KEYFRAMEFACE_OT_mapping_detect(_NeedsObject, bpy.types.Operator):
    """Fill the mapping table of every mesh of the head from its shape-key names, with the naming preset"""

    bl_idname = "keyframeface.mapping_detect"
    bl_label = "Detect Mapping"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = context.active_object
        settings = obj.keyframeface_rig
        meshes = _meshes_with_keys(obj)
        if not meshes:
            self.report({"ERROR"}, f"'{obj.name}' and its children have no shape keys")
            return {"CANCELLED"}
        counts = {m.name: rig.fill_mapping(m, settings.preset) for m in meshes}
        bones = rig.detect_pose_bones(obj)
        if bones:
            settings.armature = rig.rig_armature(obj)
            for setting, name in bones.items():
                setattr(settings, setting, name)
        found = rig.find_rig(obj)
        # The head object is only suggested: turning an artist's object unasked would surprise.
        no_head = not rig.has_head_bone(settings) and settings.head_object is None
        self.report({"INFO"}, ", ".join(f"{n}: {c}" for n, c in counts.items()) + f" -> {len(found.covered)}/52 ARKit shapes"
                    + (f"; pose bones: {', '.join(bones.values())}" if bones else "")
                    + ("; no head bone: set a Head Object to turn the head" if no_head else ""))
        return {"FINISHED"}


class KEYFRAMEFACE_OT_mapping_clear(_NeedsObject, bpy.types.Operator):
    """Forget the hand-made mappings: shape keys are recognised by name again"""

    bl_idname = "keyframeface.mapping_clear"
    bl_label = "Clear Mapping"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        for mesh in _meshes_with_keys(context.active_object):
            mesh.keyframeface_rig.mapping.clear()
        self.report({"INFO"}, "Mapping cleared: automatic recognition")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_mapping_export(_NeedsObject, bpy.types.Operator, ExportHelper):
    """Save the head's mapping (shapes and pose bones) as JSON to share with the team"""

    bl_idname = "keyframeface.mapping_export"
    bl_label = "Export Mapping"

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        mapping = rig.mapping_document(context.active_object)
        if not mapping.meshes:
            self.report({"ERROR"}, "No ARKit shapes mapped on this head")
            return {"CANCELLED"}
        try:
            write_mapping_json(self.filepath, mapping)
        except OSError as error:
            self.report({"ERROR"}, f"Cannot write {self.filepath}: {error.strerror or error}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Mapping of {len(mapping.meshes)} mesh(es) saved to {self.filepath}")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_mapping_import(_NeedsObject, bpy.types.Operator, ImportHelper):
    """Load a mapping JSON onto the head's meshes (matched by mesh name)"""

    bl_idname = "keyframeface.mapping_import"
    bl_label = "Import Mapping"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        try:
            meshes = rig.apply_mapping_document(context.active_object, read_mapping_json(self.filepath))
        except KeyframeFaceError as error:
            self.report({"ERROR"}, f"Cannot load the mapping: {error}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Mapping loaded onto {', '.join(meshes)}")
        return {"FINISHED"}


CLASSES = (KEYFRAMEFACE_OT_mapping_detect, KEYFRAMEFACE_OT_mapping_clear, KEYFRAMEFACE_OT_mapping_export,
           KEYFRAMEFACE_OT_mapping_import)
