"""Call ids in Mistral's form, sans I/O: ``^[A-Za-z0-9]{9}$`` (PROVIDERS.md trap 14).

Why: Mistral's API, and vLLM serving a Mistral model with ``--tokenizer-mode mistral``, refuse
a tool call id of any other shape (HTTP 400 / 422), while Open Responses allows 1 to 64
characters and other providers mint ``call_...`` or ``toolu_...`` ids. A conversation that
started elsewhere (a failover, a history from another provider) would otherwise fail on its
first tool turn. Each id not already in that form is replaced by a digest of it: the same id
always maps to the same nine characters, so an assistant's ``tool_calls[].id`` and the
``tool`` message answering it still match, in this request and in every later one. The calls
the model makes come back with Mistral's own ids, which are valid Open Responses ids as they
are: nothing needs mapping back.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Sequence
from typing import Any

from .._errors import RequestValidationError
from ._chat_messages import PREFIX

__all__ = ["mistral_call_id", "mistral_call_ids"]

_FORM = re.compile(r"[A-Za-z0-9]{9}")
_ALPHABET = string.ascii_letters + string.digits


def mistral_call_id(call_id: str) -> str:
    """``call_id`` itself if it is nine letters and digits, else nine drawn from its SHA-256."""
    if _FORM.fullmatch(call_id):
        return call_id
    number = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    chars = []
    for _ in range(9):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)


def mistral_call_ids(messages: Sequence[dict[str, Any]]) -> None:
    """Rewrite, in place, the call ids of chat ``messages`` (assistant ``tool_calls[].id``,
    ``tool`` messages' ``tool_call_id``) in Mistral's form. Two ids of the request mapping to
    the same nine characters (odds of about 1 in 10^16 per pair) are refused rather than
    confused: ``RequestValidationError`` naming both."""
    seen: dict[str, str] = {}

    def mapped(call_id: str) -> str:
        new = mistral_call_id(call_id)
        other = seen.setdefault(new, call_id)
        if other != call_id:
            text = f"{PREFIX}: call ids {other!r} and {call_id!r} both map to Mistral's id {new!r}"
            raise RequestValidationError(text, [{"loc": ("input",), "msg": text, "type": "unsupported"}])
        return new

    for message in messages:
        for call in message.get("tool_calls") or ():
            call["id"] = mapped(call["id"])
        if message.get("role") == "tool":
            message["tool_call_id"] = mapped(message["tool_call_id"])
