"""Reading and writing the files users give us, safely.

- ``atomic_write``: every output file is written to a temporary file beside it and renamed into
  place, so a failing command never leaves a truncated or half-written file (an existing file
  stays as it was).
- ``read_text``: text files with the encoding a user would expect: UTF-8, or UTF-16/UTF-32/UTF-8
  with a byte-order mark (what Windows editors save); anything else is refused with the file's
  name and where the bad byte is.
- ``loads_json``: the one JSON reader, with a depth limit (a depth bomb is an error, not a
  ``RecursionError``).
"""

from __future__ import annotations

import codecs
import json
import os
import re
import tempfile
from pathlib import Path

from .errors import FormatError
from .limits import MAX_JSON_DEPTH, MAX_TEXT_FILE_BYTES

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def atomic_write(path, data, encoding: str = "utf-8", newline: str | None = None) -> None:
    """Write ``data`` (text, bytes, or a callable taking a text handle) to ``path`` through a
    temporary file in the same folder and a rename."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    try:
        if isinstance(data, bytes):
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
        else:
            with os.fdopen(handle, "w", encoding=encoding, newline=newline) as stream:
                if callable(data):
                    data(stream)
                else:
                    stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def decode_text(raw: bytes, name: str) -> str:
    """Text from bytes: a BOM picks UTF-8/16/32, otherwise UTF-8; else ``FormatError``."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise FormatError(f"{name} starts with a {encoding.upper()} byte-order mark but is not "
                                  f"{encoding.upper()} text (byte {error.start})") from None
            return text.lstrip("\ufeff")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise FormatError(f"{name} is not UTF-8 text: byte 0x{raw[error.start]:02x} on line {line} "
                          "(save it as UTF-8, or as UTF-16 with a byte-order mark)") from None


def read_text(path, what: str = "", max_bytes: int = MAX_TEXT_FILE_BYTES) -> str:
    """A whole text file, decoded as ``decode_text`` says; ``FormatError`` names the file."""
    path = Path(path)
    name = what or path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FormatError(f"{name} is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as error:
        raise FormatError(f"cannot read {name}: {error.strerror or error}") from None
    if len(raw) > max_bytes:
        raise FormatError(f"{name} is larger than {max_bytes / 2**20:.0f} MB")
    return decode_text(raw, name)


# A JSON string (escapes included), unrolled so long strings cost one step each.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_OPENING, _CLOSING = (ord("["), ord("{")), (ord("]"), ord("}"))


def json_depth(text: str) -> int:
    """How deep the brackets of ``text`` nest (outside strings)."""
    import numpy as np

    codes = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "replace"), dtype=np.uint8)
    steps = np.isin(codes, _OPENING).astype(np.int64) - np.isin(codes, _CLOSING)
    return int(np.cumsum(steps).max(initial=0))


def check_json_depth(text: str, what: str = "the JSON", max_depth: int = MAX_JSON_DEPTH) -> None:
    depth = json_depth(text)
    if depth > max_depth:
        raise FormatError(f"{what} nests {depth} levels deep; the limit is {max_depth}")


def loads_json(text, what: str = "the JSON", max_depth: int = MAX_JSON_DEPTH):
    """Parse JSON text (or UTF-8 bytes) with a depth limit; ``FormatError`` on anything wrong."""
    if isinstance(text, (bytes, bytearray)):
        text = decode_text(bytes(text), what)
    check_json_depth(text, what, max_depth)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FormatError(f"{what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except (RecursionError, ValueError) as error:
        raise FormatError(f"{what} is not valid JSON: {error}") from None


def read_json(path, what: str = "", max_depth: int = MAX_JSON_DEPTH):
    path = Path(path)
    return loads_json(read_text(path, what or path.name), what or path.name, max_depth)
