"""``_json_bytes.loads`` reads what ``json.loads(bytes)`` reads, and refuses what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses._json_bytes import loads

VALUE = {"model": "m", "input": "café \u2603 \U0001f600", "n": [1, 2.5, None, True]}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_json_reads_is_read(encoding: str) -> None:
    assert loads(json.dumps(VALUE, ensure_ascii=False).encode(encoding)) == VALUE


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b'{"a": 1} x', b"\xff\xfe\xfa", b'"\xc3\x28"', b"NaNx", b"\x00\x00\x00"],
    ids=["empty", "cut", "trailing", "not-unicode", "bad-utf8", "bad-literal", "nuls"],
)
def test_what_json_refuses_is_refused_alike(raw: bytes) -> None:
    with pytest.raises(ValueError) as ours:
        loads(raw)
    with pytest.raises(ValueError) as theirs:
        json.loads(raw)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def _outcome(raw: bytes) -> Any:
    try:
        return ("value", json.dumps(json.loads(raw), sort_keys=True))
    except ValueError as exc:
        return ("error", type(exc).__name__, str(exc))


def _ours(raw: bytes) -> Any:
    try:
        return ("value", json.dumps(loads(raw), sort_keys=True))
    except ValueError as exc:
        return ("error", type(exc).__name__, str(exc))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=8,
        ).map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
    )
)
def test_any_bytes_get_what_json_loads_gives(raw: bytes) -> None:
    assert _ours(raw) == _outcome(raw)
