"""Add Demo Head: the procedural ARKit head to try the tool on."""

import bpy

from ..keyframeface_addon.demo_head import add_demo_head


class KEYFRAMEFACE_OT_demo_head(bpy.types.Operator):
    """Add a procedural head carrying all 52 ARKit shape keys, to try KeyframeFace on"""

    bl_idname = "keyframeface.demo_head"
    bl_label = "Add Demo Head"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to add the demo head.")
            return False
        return True

    def execute(self, context):
        collection = context.collection or context.scene.collection
        obj = add_demo_head(collection, location=context.scene.cursor.location)
        for other in context.view_layer.objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        self.report({"INFO"}, f"Added '{obj.name}' with 52 ARKit shape keys")
        return {"FINISHED"}
