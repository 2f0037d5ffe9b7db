"""./kff package: build the installable extension .zip (Edit > Preferences > Get Extensions >
Install from Disk). What goes in is decided by ``[build] paths_exclude_pattern`` in
blender_manifest.toml: tests, developer tools and environments stay out."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .blender_env import ROOT


def blender_ext_cli() -> Path:
    """Blender's extension command line, shipped inside the bpy wheel."""
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.origin:
        raise SystemExit("package: bpy is not installed; run ./kff package (it sets up .venv)")
    found = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise SystemExit("package: blender_ext.py not found inside the bpy package")
    return found[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="./kff package", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "dist"))
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cli = str(blender_ext_cli())
    for command in (["validate", str(ROOT)], ["build", "--source-dir", str(ROOT), "--output-dir", str(out)]):
        result = subprocess.run([sys.executable, cli, *command], capture_output=True, text=True)
        sys.stdout.write(result.stdout)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
