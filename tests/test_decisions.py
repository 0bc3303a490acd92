"""Decision ids: short, in one format, and not repeated by a forked process."""

from __future__ import annotations

import os
import re

from scrapeguard.decisions import new_decision_id


def test_decision_ids_are_short_and_distinct() -> None:
    ids = {new_decision_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"sg-[0-9a-f]{12}", i) for i in ids)


def test_a_forked_process_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, " ".join(new_decision_id() for _ in range(5)).encode())
        finally:
            os._exit(0)
    os.close(write)
    parent = {new_decision_id() for _ in range(5)}
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    assert len(child) == 5 and not parent & child
