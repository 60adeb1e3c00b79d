"""Embedders: the :class:`Embedder` protocol and the ways to get one.

- :class:`~openresponses.cache.LexicalEmbedder`: built in, dependency-free (the default).
- :class:`WordLlamaEmbedder`: the ``wordllama`` extra; static word embeddings whose weights
  ship inside the wheel, loaded with downloads disabled, so it works offline.
- :class:`~openresponses.transports.embeddings.EndpointEmbedder`: any OpenAI-compatible
  ``/v1/embeddings`` endpoint (OpenAI, Ollama, TGI, vLLM), over HTTP.
- :class:`CallableEmbedder` (or pass any function to ``SemanticCache(embedder=...)``): a sync or
  async function from a list of texts to a list of vectors.

An embedder's ``name`` identifies its vector space: it is part of every semantic bucket key,
so entries embedded by one model are never compared with queries embedded by another.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .._extras import MissingExtraError
from ._base import Vector

__all__ = ["CallableEmbedder", "Embedder", "WordLlamaEmbedder", "as_embedder"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. ``name`` names the vector space (model and dimensions)."""

    @property
    def name(self) -> str:
        """A stable name for the vector space (same model, same name, in every process)."""
        ...

    async def embed(self, texts: Sequence[str]) -> Sequence[Vector]:
        """One vector per text, in order (any length; the cache scales them to unit length)."""
        ...


class CallableEmbedder:
    """An embedder over a function ``fn(texts) -> vectors`` (sync or async).

    ``name`` defaults to the function's qualified name: give a stable one (with the model and
    dimensions) when several processes share a store.
    """

    __slots__ = ("_fn", "_name")

    def __init__(
        self,
        fn: Callable[[list[str]], Sequence[Vector] | Awaitable[Sequence[Vector]]],
        *,
        name: str | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"CallableEmbedder needs a function of a list of texts, got {fn!r}")
        self._fn = fn
        self._name = name or f"callable:{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"

    @property
    def name(self) -> str:
        """The vector space's name."""
        return self._name

    def __repr__(self) -> str:
        return f"CallableEmbedder(name={self._name!r})"

    async def embed(self, texts: Sequence[str]) -> Sequence[Vector]:
        """Call the function (awaiting it if it returns an awaitable)."""
        result = self._fn(list(texts))
        if inspect.isawaitable(result):
            result = await result
        return result


class WordLlamaEmbedder:
    """`WordLlama <https://github.com/dleemiller/WordLlama>`_ static embeddings (``wordllama`` extra).

    The model (``config``, default ``l2_supercat``, at ``dim`` 64-1024) is loaded on first use
    from the weights inside the installed wheel, with downloads disabled: it never touches the
    network. About 15 ms per thousand prompts on one core. Needs ``pip install
    'openresponses-python[wordllama]'``.
    """

    __slots__ = ("_model", "config", "dim")

    def __init__(self, config: str = "l2_supercat", *, dim: int = 256) -> None:
        try:
            import wordllama  # noqa: F401  (fail now, naming the extra, not at the first call)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] != "wordllama":
                raise
            raise MissingExtraError("WordLlamaEmbedder", "wordllama", missing="wordllama") from None
        self.config = config
        self.dim = dim
        self._model: Any = None

    @property
    def name(self) -> str:
        """The vector space's name."""
        return f"wordllama-{self.config}-{self.dim}"

    def __repr__(self) -> str:
        return f"WordLlamaEmbedder(config={self.config!r}, dim={self.dim})"

    def load(self) -> Any:
        """Load the model now (else on first use); returns it."""
        if self._model is None:
            import wordllama
            from wordllama import WordLlama

            # wordllama 0.4 looks for the bundled tokenizer under "tokenizer/" but ships it under
            # "tokenizers/": pointing the cache directory at the package finds both files there.
            package = Path(wordllama.__file__).parent
            self._model = WordLlama.load(self.config, cache_dir=package, dim=self.dim, disable_download=True)
        return self._model

    async def embed(self, texts: Sequence[str]) -> Sequence[Vector]:
        """Embed synchronously (microseconds per prompt: not worth a thread hop)."""
        model = self.load()
        result: Sequence[Vector] = model.embed(list(texts), norm=True)
        return result


def as_embedder(value: Embedder | Callable[..., Any] | None) -> Embedder:
    """``value`` as an :class:`Embedder`: the built-in lexical one for ``None``, a function wrapped."""
    if value is None:
        from ._lexical import LexicalEmbedder

        return LexicalEmbedder()
    if isinstance(value, Embedder):
        return value
    if callable(value):
        return CallableEmbedder(value)
    raise TypeError(f"embedder must be an Embedder or a function of a list of texts, got {value!r}")
