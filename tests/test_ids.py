"""``new_id``: unique, unguessable ids, also across threads and forked processes."""

from __future__ import annotations

import os
import re
import threading

import pytest

from openresponses._emit_state import _IDS_PER_DRAW, new_id

SHAPE = re.compile(r"msg_[0-9a-f]{24}[0-9a-f]+")


def random_part(value: str) -> str:
    return value[4:28]


def test_ids_have_the_shape_and_never_repeat_their_random_bits() -> None:
    ids = [new_id("msg") for _ in range(3 * _IDS_PER_DRAW + 7)]  # several draws of the pool
    assert all(SHAPE.fullmatch(value) for value in ids)
    assert len(set(ids)) == len(ids)
    assert len({random_part(value) for value in ids}) == len(ids)


def test_threads_never_share_an_id_or_its_random_bits() -> None:
    found: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(new_id("msg") for _ in range(2_000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [value for into in found for value in into]
    assert len(set(ids)) == len(ids) == 8_000
    assert len({random_part(value) for value in ids}) == len(ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_does_not_hand_out_its_parents_next_ids() -> None:
    new_id("msg")  # the pool holds this block's unused ids now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, " ".join(new_id("msg") for _ in range(5)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [new_id("msg") for _ in range(5)]
    assert len(child) == 5
    # The same counter values on both sides, but fresh random bits in the child.
    assert not {random_part(value) for value in child} & {random_part(value) for value in parent}
