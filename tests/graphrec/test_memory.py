"""``[train] keep_memory``: glibc keeps large freed blocks for reuse (graphrec.training.memory)."""

from __future__ import annotations

import ctypes

import pytest
import torch

from graphrec.errors import ConfigError
from graphrec.training import TrainConfig
from graphrec.training.memory import available_bytes, keep_freed_memory

BLOCK = 64 * 2**20  # bytes: above glibc's largest mmap threshold (32 MB)


class MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (malloc.h): byte counts of the allocator's state."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def mallinfo() -> MallInfo2:
    call = ctypes.CDLL(None).mallinfo2
    call.restype = MallInfo2
    return call()


def test_large_blocks_come_from_the_heap_and_are_reused_after_being_freed():
    assert keep_freed_memory() and keep_freed_memory()  # applied, then already in force
    before = mallinfo()
    block = torch.empty(BLOCK // 4)
    during = mallinfo()
    assert during.hblkhd - before.hblkhd < BLOCK  # not a fresh mmap of its own
    del block
    freed = mallinfo()
    assert freed.arena >= during.arena  # the heap keeps it (not trimmed back)
    # freed blocks are reused: allocating and freeing the block again and again grows
    # neither the heap nor the mmapped regions by more than one block in all (the first
    # time may need one, where small allocations took part of the freed memory meanwhile)
    for _ in range(5):
        again = torch.empty(BLOCK // 4)
        assert again.numel() == BLOCK // 4
        del again
    after = mallinfo()
    assert after.arena - freed.arena <= BLOCK + 2**20
    assert after.hblkhd - freed.hblkhd < BLOCK


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_keep_memory_must_be_a_boolean(bad):
    with pytest.raises(ConfigError, match="keep_memory"):
        TrainConfig(keep_memory=bad)


def test_available_bytes_reads_meminfo_and_a_cgroup_limit(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683664 kB\nMemAvailable:    1000 kB\n")
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    assert available_bytes("cpu", meminfo, ()) == 1000 * 1024
    limit.write_text("max\n")
    usage.write_text("5000\n")
    assert available_bytes("cpu", meminfo, ((limit, usage),)) == 1000 * 1024  # no limit
    limit.write_text("105000\n")
    assert available_bytes("cpu", meminfo, ((limit, usage),)) == 100000  # the cgroup's is less
    assert available_bytes("cpu", tmp_path / "missing", ((limit, usage),)) == 100000
    assert available_bytes("cpu", tmp_path / "missing", ()) is None
    assert available_bytes("meta") is None
    real = available_bytes("cpu")  # this machine's /proc/meminfo
    assert real is not None and real > 0
