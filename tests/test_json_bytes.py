"""``_json_bytes``: pydantic-core's parser first, with ``json.loads``' values, refusals and messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses._json_bytes import loads, loads_utf8

VALUE = {"model": "m", "input": "café \u2603 \U0001f600", "n": [1, 2.5, None, True]}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]

#: Where pydantic-core's parser and ``json`` part ways: each must end as ``json`` has it.
EDGES = [
    b'"\\ud800"',  # a lone surrogate escape: json keeps it, jiter refuses
    b'"\xed\xa0\x80"',  # an encoded surrogate
    b"[" * 300 + b"]" * 300,  # deeper than jiter's limit, within json's
    b"1" * 4300,  # the longest int Python converts
    b"1" * 4301,  # one digit more: refused by both, with json's message here
    b"1e999",  # inf, as json reads it
    b"NaN",
    b"-Infinity",
    b'{"a": 1, "a": 2}',
    b"9007199254740993.0",
    b"\xef\xbb\xbf{}",
    b"",
    b"{",
    b'{"a": 1} x',
    b"\xff\xfe\xfa",
    b'"\xc3\x28"',
    b"NaNx",
    b"\x00\x00\x00",
    b'"\t"',
    b"[1,]",
]


def outcome(parse: Callable[[bytes], Any], raw: bytes) -> Any:
    try:
        return ("value", repr(parse(raw)))  # repr: nan == nan, -0.0 apart from 0.0
    except RecursionError:
        return ("recursion",)
    except ValueError as exc:
        return ("error", type(exc).__name__, str(exc))


def utf8_json(raw: bytes) -> Any:
    """What the SSE parsers did before: UTF-8 with surrogates passed, a BOM left to json."""
    return json.loads(raw if raw[:3] == b"\xef\xbb\xbf" else raw.decode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_json_reads_is_read(encoding: str) -> None:
    assert loads(json.dumps(VALUE, ensure_ascii=False).encode(encoding)) == VALUE


@pytest.mark.parametrize("raw", EDGES, ids=range(len(EDGES)))
def test_the_edges_end_as_json_has_them(raw: bytes) -> None:
    assert outcome(loads, raw) == outcome(json.loads, raw)
    assert outcome(loads_utf8, raw) == outcome(utf8_json, raw)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
NUMBERS = st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][-+]?[0-9]{1,4})?", fullmatch=True)
INPUTS = st.one_of(
    st.binary(max_size=40),
    JSON_VALUES.map(lambda value: json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    NUMBERS.map(str.encode),
)


@settings(max_examples=400, deadline=None)
@given(INPUTS)
def test_any_bytes_get_what_json_gives(raw: bytes) -> None:
    assert outcome(loads, raw) == outcome(json.loads, raw)
    assert outcome(loads_utf8, raw) == outcome(utf8_json, raw)
