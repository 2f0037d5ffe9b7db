"""Export FBX with the settings that keep shape-key animation, warning when a setup would lose it."""

import bpy
from bpy_extras.io_utils import ExportHelper

from ..keyframeface_addon.fbx import animation_problems, export_fbx, export_objects
from ..model_runtime.errors import KeyframeFaceError


class KEYFRAMEFACE_OT_export_fbx(bpy.types.Operator, ExportHelper):
    """Export the active head with its shape-key animation as FBX (for Unity, Unreal and game engines)"""

    bl_idname = "keyframeface.export_fbx"
    bl_label = "Export FBX"
    bl_options = {"REGISTER"}

    filename_ext = ".fbx"
    filter_glob: bpy.props.StringProperty(default="*.fbx", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        if context.active_object is None:
            cls.poll_message_set("Select the head to export.")
            return False
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to export.")
            return False
        return True

    def execute(self, context):
        obj = context.active_object
        for problem in animation_problems(export_objects(obj)):
            self.report({"WARNING"}, problem)
        try:
            objects, frames = export_fbx(context, self.filepath, obj)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        span = f", frames {frames[0]}-{frames[1]}" if frames else ", no shape-key animation"
        self.report({"INFO"}, f"Exported {len(objects)} object(s) to {self.filepath}{span}")
        return {"FINISHED"}
