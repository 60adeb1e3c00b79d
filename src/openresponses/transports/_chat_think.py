"""Splitting ``<think>…</think>`` reasoning out of streamed chat content, sans I/O.

Servers without a reasoning parser (TGI, vLLM without ``--reasoning-parser``, llama.cpp with
``--reasoning-format none``, Groq ``raw``, LM Studio by default) leave an R1-style model's
chain of thought in ``content``. :class:`ThinkSplitter` turns content deltas into
``("reasoning", text)`` and ``("text", text)`` pieces:

- a ``<think>`` is recognised only at the start of the message (after optional whitespace):
  later in the answer it is just text (code samples talk about think tags too);
- tags may be split across chunks at any character, so a possible partial tag is held back
  until the next chunk decides it (PROVIDERS.md trap 2);
- a ``</think>`` at the start (nothing but whitespace before it) closes a reasoning block
  whose opening tag sat in the prompt and whose text came through a reasoning field, or was
  empty;
- ``open=True`` is for chat templates that put ``<think>`` in the prompt (R1 distills on vLLM
  without a parser): the content starts *inside* reasoning, so everything before the first
  ``</think>`` is reasoning (a ``<think>`` the model repeats is dropped). A stream cannot take
  text back once sent, so this has to be configured rather than guessed;
- whitespace right after either tag is dropped (``</think>\\n\\n`` before the answer);
- at the end, a held partial tag is flushed as what it would have been part of.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["THINK_TAGS", "Piece", "ThinkSplitter"]

Piece = tuple[Literal["reasoning", "text"], str]

_OPEN = "<think>"
_CLOSE = "</think>"
#: Content that starts with one of these (after whitespace) holds reasoning.
THINK_TAGS = (_OPEN, _CLOSE)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Feed content deltas; get reasoning and text pieces out, in order."""

    __slots__ = ("_held", "_mode", "_open", "_strip")

    def __init__(self, *, open: bool = False) -> None:
        # "start": nothing but whitespace seen; "think": inside reasoning; "text": the answer.
        self._mode: Literal["start", "think", "text"] = "start"
        self._open = open
        self._held = ""
        self._strip = False  # drop the whitespace that follows a tag

    @property
    def in_reasoning(self) -> bool:
        """Whether the content is currently inside a reasoning block."""
        return self._mode == "think"

    def feed(self, delta: str) -> list[Piece]:
        """The pieces ``delta`` completes (a possible partial tag stays held)."""
        if not delta:
            return []
        pieces: list[Piece] = []
        buf = self._held + delta
        self._held = ""
        while buf:
            if self._mode == "text":
                self._emit(pieces, "text", buf)
                break
            if self._mode == "start":
                stripped = buf.lstrip()
                if not stripped or _OPEN.startswith(stripped) or _CLOSE.startswith(stripped):
                    self._held = buf  # whitespace or a possible tag: undecided
                    break
                if stripped.startswith(_OPEN):
                    self._mode, self._strip = "think", True
                    buf = stripped[len(_OPEN) :]
                elif stripped.startswith(_CLOSE):
                    self._mode, self._strip = "text", True
                    buf = stripped[len(_CLOSE) :]
                elif self._open:
                    self._mode = "think"  # the prompt opened the block: this is reasoning
                else:
                    self._mode = "text"
                continue
            # Inside reasoning: look for the closing tag.
            end = buf.find(_CLOSE)
            if end >= 0:
                self._emit(pieces, "reasoning", buf[:end])
                self._mode, self._strip = "text", True
                buf = buf[end + len(_CLOSE) :]
                continue
            keep = _partial_suffix(buf, _CLOSE)
            self._emit(pieces, "reasoning", buf[: len(buf) - keep])
            self._held = buf[len(buf) - keep :]
            break
        return pieces

    def flush(self) -> list[Piece]:
        """End of the content (or something other than content comes next): release what is held."""
        held, self._held = self._held, ""
        pieces: list[Piece] = []
        if self._mode == "start" and held:
            self._mode = "think" if self._open else "text"
        if self._mode == "think":
            self._emit(pieces, "reasoning", held)
        elif held:
            self._emit(pieces, "text", held)
        return pieces

    def _emit(self, pieces: list[Piece], kind: Literal["reasoning", "text"], text: str) -> None:
        if self._strip:
            text = text.lstrip()
            if not text:
                return
            self._strip = False
        if text:
            if pieces and pieces[-1][0] == kind:
                pieces[-1] = (kind, pieces[-1][1] + text)
            else:
                pieces.append((kind, text))
