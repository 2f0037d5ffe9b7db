"""The extension loads the way Blender loads extensions, validates, and packages."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _blender_ext_cli():
    pytest.importorskip("bpy")
    from devtools.package import blender_ext_cli

    return blender_ext_cli()


def test_manifest_validates():
    result = subprocess.run([sys.executable, str(_blender_ext_cli()), "validate", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_manifest_contract():
    import tomllib

    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    assert manifest["schema_version"] == "1.0.0" and manifest["id"] == "keyframeface"
    assert manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert manifest["permissions"]["network"]
    assert len(manifest["tagline"]) <= 64 and not manifest["tagline"][-1] in ".!?"


def test_operators_panels_and_settings_are_registered(blender, scene):
    import bpy

    for name in ("generate", "demo_head", "export_fbx"):
        assert hasattr(bpy.ops.keyframeface, name)
    settings = scene.keyframeface
    for field in ("script", "context", "emotion", "seed", "intensity", "start_frame"):
        assert hasattr(settings, field)
    for panel in ("VIEW3D_PT_keyframeface_generate", "VIEW3D_PT_keyframeface_take", "VIEW3D_PT_keyframeface_rig"):
        cls = getattr(bpy.types, panel)
        assert cls.bl_space_type == "VIEW_3D" and cls.bl_category == "KeyframeFace"
    for operator in (bpy.types.KEYFRAMEFACE_OT_generate, bpy.types.KEYFRAMEFACE_OT_demo_head):
        assert "UNDO" in operator.bl_options  # one undo step per generation
    prefs = bpy.context.preferences.addons[blender().__name__].preferences
    assert prefs.backend == "builtin"


def test_package_builds_an_installable_zip(tmp_path):
    result = subprocess.run([sys.executable, "-m", "devtools.package", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    archives = list(tmp_path.glob("keyframeface-*.zip"))
    assert len(archives) == 1
    names = zipfile.ZipFile(archives[0]).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "model_runtime/data/facs.json" in names and "keyframeface_addon/writers/channels.py" in names
    # The extension and nothing else: no evaluation reports, tests, tools or environments.
    assert {n.split("/")[0] for n in names} == {"blender_manifest.toml", "__init__.py", "keyframeface_addon",
                                                "operators", "panels", "model_runtime", "wheels"}
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
