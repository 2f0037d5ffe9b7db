"""BERT's uncased WordPiece tokenizer in pure Python (what all-MiniLM-L6-v2 was trained with).

Basic tokenization (clean, lower-case, strip accents, split punctuation and CJK characters),
then greedy longest-match word pieces from ``vocab.txt``; ids match the Hugging Face
``BertTokenizer`` for the same vocabulary.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

MAX_WORD_CHARACTERS = 100


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
            or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


def _clean(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if code in (0, 0xFFFD):
            continue
        category = unicodedata.category(char)
        if char in " \t\n\r" or category == "Zs":
            out.append(" ")
        elif category.startswith("C"):
            continue
        elif _is_cjk(code):
            out.append(f" {char} ")
        else:
            out.append(char)
    return "".join(out)


def basic_tokens(text: str) -> list[str]:
    """Lower-cased, accent-stripped words with every punctuation character on its own."""
    tokens = []
    for word in _clean(text).lower().split():
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        current = ""
        for char in word:
            if _is_punctuation(char):
                if current:
                    tokens.append(current)
                tokens.append(char)
                current = ""
            else:
                current += char
        if current:
            tokens.append(current)
    return tokens


class WordPiece:
    """Text -> token ids, framed by [CLS] ... [SEP]."""

    def __init__(self, vocab_path: Path):
        words = Path(vocab_path).read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        self.ids = {word: index for index, word in enumerate(words)}
        self.unknown, self.first, self.last = self.ids["[UNK]"], self.ids["[CLS]"], self.ids["[SEP]"]

    def pieces(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARACTERS:
            return [self.unknown]
        found, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    found.append(self.ids[piece])
                    break
                end -= 1
            else:
                return [self.unknown]
            start = end
        return found

    def encode(self, text: str, max_length: int) -> list[int]:
        ids = [piece for word in basic_tokens(text) for piece in self.pieces(word)]
        return [self.first, *ids[: max_length - 2], self.last]
