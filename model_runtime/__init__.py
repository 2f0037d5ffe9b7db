"""KeyframeFace model runtime: everything that does not need Blender.

ARKit schema, the track model and its file formats, the plan -> solve -> compose backends,
the command line (``python -m model_runtime``). Pure Python + numpy; optional heavy parts
(torch, transformers, the HTTP server) are imported only when used. Never imports bpy.
"""

__version__ = "0.1.0"
