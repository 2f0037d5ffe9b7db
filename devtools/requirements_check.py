"""Exit 1 naming every pinned requirement (``name==version``) a virtual environment lacks.

./kff trusts a venv whose stamp matches its requirements file; a venv copied or hand-edited can
carry the stamp without the packages, and only a clean machine would notice. This check costs a
metadata read per line, so ./kff runs it every time.

    python -m devtools.requirements_check FILE [PIN ...]
"""
from __future__ import annotations

import re
import sys
from importlib import metadata

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def missing(lines: list[str]) -> list[str]:
    """The pins in ``lines`` not installed at their version (wildcards like ``4.2.*`` match a prefix)."""
    absent = []
    for line in lines:
        match = _PIN.match(line)
        if not match:
            continue
        name, wanted = match.groups()
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            absent.append(f"{name} (not installed)")
            continue
        same = have.startswith(wanted[:-1]) if wanted.endswith("*") else have.split("+")[0] == wanted.split("+")[0]
        if not same:
            absent.append(f"{name} ({have} installed, {wanted} wanted)")
    return absent


def main(argv: list[str]) -> int:
    lines = list(argv[1:])
    with open(argv[0], encoding="utf-8") as handle:
        lines += handle.read().splitlines()
    absent = missing(lines)
    if absent:
        print("; ".join(absent))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
