"""JSON from bytes, as ``json.loads(bytes)`` reads it, without its encoding sniffing for UTF-8.

Why: ``json.loads`` given bytes first guesses the encoding (``json.detect_encoding``) and then
decodes; nearly every body is UTF-8 without a BOM, which one ``bytes.decode`` reads. A BOM, or a
NUL byte among the first four (UTF-16 or UTF-32 without a BOM: a UTF-8 JSON text cannot start
with one), or bytes that are not UTF-8, take ``json.loads``' own path, so what it accepts and
what it refuses (and its messages) stay the same.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]

_DECODER = json.JSONDecoder()
_BOM = b"\xef\xbb\xbf"


def loads(raw: bytes | bytearray) -> Any:
    """``json.loads(raw)``: the same value, or the same ``ValueError``."""
    if raw[:3] != _BOM and b"\x00" not in raw[:4]:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            pass
        else:
            return _DECODER.decode(text)
    return json.loads(raw)
