"""Load the extension from this checkout into Blender-as-a-module, the way Blender loads
extensions: a local extensions repository whose directory holds the checkout (as
``keyframeface``), then ``addon_utils.enable``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY_MODULE = "kff_checkout"
EXTENSION_ID = "keyframeface"
MODULE = f"bl_ext.{REPOSITORY_MODULE}.{EXTENSION_ID}"


def load_extension(checkout: Path = ROOT) -> str:
    """Register a local repository pointing at ``checkout`` and enable the extension from it.
    Returns the extension's module name. Safe to call more than once."""
    import addon_utils
    import bpy

    repos = bpy.context.preferences.extensions.repos
    if not any(repo.module == REPOSITORY_MODULE for repo in repos):
        directory = tempfile.mkdtemp(prefix="kff-extensions-")
        os.symlink(checkout, os.path.join(directory, EXTENSION_ID))
        repos.new(name="KeyframeFace checkout", module=REPOSITORY_MODULE, custom_directory=directory, source="USER")
    if not addon_utils.check(MODULE)[1]:
        errors = []
        addon_utils.enable(MODULE, default_set=True, handle_error=errors.append)
        if errors or not addon_utils.check(MODULE)[1]:
            raise RuntimeError(f"could not enable {MODULE}: {errors}")
    addon_utils.enable("io_scene_fbx", default_set=True)
    return MODULE


def extension_module(name: str = ""):
    """A submodule of the loaded extension, e.g. ``extension_module("keyframeface_addon.rig")``."""
    import importlib

    return importlib.import_module(f"{MODULE}.{name}" if name else MODULE)
