"""Checks of the description parser that need no new writer: the dev sets rewritten.

``.venv/bin/python -m devtools.description_checks [--show N]``: every dev description that
agrees with its shapes (``model_runtime/data/eval/descriptions_*.json``, not the test set) is
rewritten in ways that must not change what it means, and solved again:

- mirrored: left and right swapped in the text and in the shapes it names (a parser that leans
  to one side, or reads a side as a direction, shows here);
- he/she and his/her swapped;
- its commas turned into semicolons, dashes or full stops (clause splitting).

Prints how many still agree, and up to N that do not. These are dev texts (tuned on), so the
figures say how robust the reading is, not how well it generalises to a new writer.
"""

from __future__ import annotations

import argparse
import re
import sys

from model_runtime._data import load_json
from model_runtime.backends import get_backend
from model_runtime.evaluation import DESCRIPTION_DEV_SETS, description_agrees

_SIDE = {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}
_PERSON = {"he": "she", "she": "he", "his": "her", "her": "his", "him": "her",
           "He": "She", "She": "He", "His": "Her", "Her": "His", "Him": "Her"}


def mirrored(item: dict) -> dict | None:
    """``item`` with left and right swapped, or None when it names no side."""
    if not re.search(r"\b(?:left|right)\b", item["text"], re.I):
        return None

    def shape(name: str) -> str:
        for side, other in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(side):
                return name[: -len(side)] + other
        return name

    text = re.sub(r"\b(left|right|Left|Right)\b", lambda m: _SIDE[m.group(1)], item["text"])
    return dict(item, text=text, present=[shape(n) for n in item["present"]], absent=[shape(n) for n in item["absent"]])


def rewritten(item: dict, how) -> dict | None:
    text = how(item["text"])
    return None if text == item["text"] else dict(item, text=text)


REWRITES = {
    "mirrored (left <-> right, in text and shapes)": mirrored,
    "he/she, his/her swapped": lambda item: rewritten(item, lambda t: re.sub(
        r"\b(he|she|his|her|him|He|She|His|Her|Him)\b", lambda m: _PERSON[m.group(1)], t)),
    "commas -> semicolons": lambda item: rewritten(item, lambda t: t.replace(", ", "; ")),
    "commas -> dashes": lambda item: rewritten(item, lambda t: t.replace(", ", " - ")),
    "commas -> full stops": lambda item: rewritten(item, lambda t: t.replace(", ", ". ")),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.description_checks", description=__doc__.split("\n")[0])
    parser.add_argument("--show", type=int, default=5, help="how many disagreeing rewrites to print per check")
    args = parser.parse_args(argv)
    backend = get_backend("builtin")
    items = [item for _, name, _ in DESCRIPTION_DEV_SETS for item in load_json(f"eval/{name}")["descriptions"]]
    agreeing = [item for item in items if description_agrees(item, backend)[0]]
    print(f"{len(agreeing)} of {len(items)} dev descriptions agree as written; rewritten:")
    for label, rewrite in REWRITES.items():
        pairs = [(item, rewrite(item)) for item in agreeing]
        pairs = [(item, new) for item, new in pairs if new is not None]
        misses = []
        for _, new in pairs:
            ok, problems = description_agrees(new, backend)
            if not ok:
                misses.append((new["text"], problems))
        print(f"  {label}: {len(pairs) - len(misses)}/{len(pairs)} still agree")
        for text, problems in misses[: args.show]:
            print(f"    {text!r}: {', '.join(problems)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
