"""Writing a composed performance onto a rig, one module per kind of write (as glTF-Blender-IO
splits its exporters): ``channels`` (routing, F-curve keys, NLA strips) shared by ``new_take``,
``replace_range`` and ``layer_on_top``."""
