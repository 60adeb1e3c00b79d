"""Vectorised nearest-neighbour search over unit vectors: one matrix product per query.

:class:`VectorIndex` keeps the vectors of one bucket as the rows of a float32 matrix that grows
by doubling (amortised O(1) insert, O(1) swap-remove), so a query is one BLAS matrix-vector
product, a threshold filter and an ``argpartition`` of what passes: about 1.3 ms for 100k
vectors of 128 dimensions (the scan is memory-bound: twice that at 256). :func:`top_matches`
does the same for rows read from a database in one go.

numpy is optional (the ``cache`` extra): without it the same API runs in pure Python, correct
but linear with a large constant, fine for a few thousand entries.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from ._base import Vector

__all__ = ["VectorIndex", "numpy_or_none", "stack", "stack_bytes", "top_matches"]

_np: Any = None
_checked = False


def numpy_or_none() -> Any:
    """The numpy module, or ``None`` when it is not installed."""
    global _np, _checked
    if not _checked:
        _checked = True
        module: Any
        try:
            import numpy as module
        except ImportError:  # pragma: no cover - the dev environment has numpy
            module = None
        _np = module
    return _np


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=False)))


def top_matches(
    keys: Sequence[str], rows: Any, vector: Vector, threshold: float, limit: int
) -> list[tuple[str, float]]:
    """The ``limit`` best ``(key, similarity)`` pairs at or above ``threshold``, best first.

    ``rows`` is a 2-D numpy array (one row per key) or a sequence of vectors. Rows whose length
    differs from ``vector`` never match (another embedder's vectors).
    """
    if not keys:
        return []
    np = numpy_or_none()
    if np is not None and hasattr(rows, "shape"):
        if rows.shape[1] != len(vector):
            return []
        scores = rows @ np.asarray(vector, dtype=np.float32)
        # Few rows pass a useful threshold: filter first, then rank only those.
        candidates = np.flatnonzero(scores >= threshold)
        if len(candidates) > limit:
            candidates = candidates[np.argpartition(-scores[candidates], limit - 1)[:limit]]
        picked = [(keys[int(i)], float(scores[int(i)])) for i in candidates]
    else:
        picked = [
            (key, score)
            for key, row in zip(keys, rows, strict=True)
            if len(row) == len(vector) and (score := _dot(row, vector)) >= threshold
        ]
        picked = heapq.nlargest(limit, picked, key=lambda pair: pair[1])
    picked.sort(key=lambda pair: -pair[1])
    return picked


def stack(vectors: Sequence[Vector], dim: int) -> Any:
    """Vectors of length ``dim`` as one float32 matrix (a list of lists without numpy)."""
    np = numpy_or_none()
    if np is None:
        return [list(v) for v in vectors]
    if not vectors:
        return np.zeros((0, dim), dtype=np.float32)
    return np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dim)


def stack_bytes(blobs: Sequence[bytes], dim: int) -> Any:
    """float32 blobs (``vector_bytes``) of ``dim`` values each, as one matrix, in one copy."""
    np = numpy_or_none()
    if np is None:
        from ._base import vector_from_bytes

        return [vector_from_bytes(b) for b in blobs]
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)


class VectorIndex:
    """The vectors of one bucket, searchable in one matrix product."""

    __slots__ = ("_dim", "_keys", "_matrix", "_rows", "_size")

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._rows: dict[str, int] = {}
        self._matrix: Any = None
        self._dim = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, key: str, vector: Vector) -> None:
        """Insert or replace the vector of ``key``."""
        if key in self._rows:
            self.remove(key)
        np = numpy_or_none()
        if self._size == 0:
            self._dim = len(vector)
            self._matrix = np.zeros((8, self._dim), dtype=np.float32) if np is not None else []
        elif len(vector) != self._dim:
            raise ValueError(f"vector of {len(vector)} dimensions in an index of {self._dim}")
        row = self._size
        if np is not None:
            if row == self._matrix.shape[0]:
                grown = np.zeros((row * 2, self._dim), dtype=np.float32)
                grown[:row] = self._matrix
                self._matrix = grown
            self._matrix[row] = vector
        else:
            self._matrix.append(list(vector))
        self._keys.append(key)
        self._rows[key] = row
        self._size += 1

    def remove(self, key: str) -> bool:
        """Drop ``key``'s vector (the last row moves into its place); whether it was there."""
        row = self._rows.pop(key, None)
        if row is None:
            return False
        last = self._size - 1
        if row != last:
            moved = self._keys[last]
            self._keys[row] = moved
            self._rows[moved] = row
            self._matrix[row] = self._matrix[last]
        self._keys.pop()
        if numpy_or_none() is None:
            self._matrix.pop()
        self._size -= 1
        return True

    def search(self, vector: Vector, threshold: float, limit: int) -> list[tuple[str, float]]:
        """The ``limit`` best ``(key, similarity)`` pairs at or above ``threshold``."""
        if self._size == 0:
            return []
        rows = self._matrix[: self._size] if numpy_or_none() is not None else self._matrix
        return top_matches(self._keys, rows, vector, threshold, limit)
