"""Import and export of Live Link Face CSV and KeyframeFace JSON."""

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..keyframeface_addon import interchange
from ..model_runtime.errors import KeyframeFaceError
from .checks import ExplainsPoll


class KEYFRAMEFACE_OT_import_llf_csv(ExplainsPoll, bpy.types.Operator, ImportHelper):
    """Import a Live Link Face CSV capture onto the active head as a take of sparse, editable keys"""

    bl_idname = "keyframeface.import_llf_csv"
    bl_label = "Import Live Link Face CSV"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".csv"
    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})
    max_error: FloatProperty(name="Max Error", description="Largest difference from the capture the reduced keys may show",
                             default=0.02, min=0.0005, max=0.2, precision=3)
    swap_mouth_left_right: BoolProperty(name="Swap Mouth/Jaw Left-Right",
                                        description="Some captures have mouthLeft/mouthRight (and jawLeft/jawRight) inverted")
    subtract_neutral: BoolProperty(name="Subtract Neutral", description="Make the performance relative to the neutral frame")
    neutral_frame: IntProperty(name="Neutral Frame", description="Frame of the capture (at the scene's rate) that is the rest face",
                               default=0, min=0)

    def execute(self, context):
        try:
            result = interchange.import_llf_csv(
                context.scene, context.active_object, self.filepath, self.max_error, self.swap_mouth_left_right,
                self.neutral_frame if self.subtract_neutral else None, context.scene.keyframeface.start_frame)
        except (KeyframeFaceError, OSError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        reduced = result.reduced
        self.report({"INFO"}, (
            f"{result.rows} rows at {result.source_fps:.2f} fps -> {reduced.frames} frames; "
            f"{reduced.sparse_keys:,} keys instead of {reduced.dense_keys:,} ({reduced.kept_fraction:.1%}), "
            f"max error {reduced.max_error:.3f}"))
        for note in result.notes:
            self.report({"WARNING"}, note)
        if reduced.clamped_samples:
            self.report({"WARNING"}, f"{reduced.clamped_samples} captured values outside the ARKit range were clamped")
        if result.written.dropped:
            self.report({"WARNING"}, f"The rig lacks {', '.join(result.written.dropped)}")
        for warning in result.written.warnings:
            self.report({"WARNING"}, warning)
        return {"FINISHED"}


class KEYFRAMEFACE_OT_export_llf_csv(ExplainsPoll, bpy.types.Operator, ExportHelper):
    """Export what the active head plays (all layers) as a Live Link Face CSV"""

    bl_idname = "keyframeface.export_llf_csv"
    bl_label = "Export Live Link Face CSV"

    filename_ext = ".csv"
    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})

    def execute(self, context):
        try:
            start, end = interchange.export_llf_csv(context.scene, context.active_object, self.filepath)
        except (KeyframeFaceError, OSError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported frames {start}-{end} to {self.filepath}")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_import_keyframeface_json(ExplainsPoll, bpy.types.Operator, ImportHelper):
    """Import KeyframeFace JSON keyframes (61 ARKit parameters each) as a take"""

    bl_idname = "keyframeface.import_keyframeface_json"
    bl_label = "Import KeyframeFace JSON"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json;*.jsonl", options={"HIDDEN"})
    spacing: FloatProperty(name="Spacing", description="Seconds between keyframes (the paper's converter uses 1 s)",
                           default=1.0, min=0.05, max=10.0, unit="TIME_ABSOLUTE")

    def execute(self, context):
        try:
            written = interchange.import_keyframeface_json(context.scene, context.active_object, self.filepath,
                                                          self.spacing, context.scene.keyframeface.start_frame)
        except (KeyframeFaceError, OSError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Imported {written.keys} keys on {written.fcurves} curves, frames {written.start_frame}-{written.end_frame}")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_export_keyframeface_json(ExplainsPoll, bpy.types.Operator, ExportHelper):
    """Export the active take's keyframes as KeyframeFace JSON (one object per keyframe)"""

    bl_idname = "keyframeface.export_keyframeface_json"
    bl_label = "Export KeyframeFace JSON"

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        try:
            count = interchange.export_keyframeface_json(context.scene, context.active_object, self.filepath)
        except (KeyframeFaceError, OSError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {count} keyframes to {self.filepath}")
        return {"FINISHED"}


CLASSES = (KEYFRAMEFACE_OT_import_llf_csv, KEYFRAMEFACE_OT_export_llf_csv,
           KEYFRAMEFACE_OT_import_keyframeface_json, KEYFRAMEFACE_OT_export_keyframeface_json)
