"""Memory: keeping freed memory in the process (``[train] keep_memory``), and how much is left.

A training step allocates many large temporaries (a ``path-gnn`` step on CDRIB: tens of
``[num_nodes, batch, dim]`` tensors of 40-90 MB each) and frees them at its end. glibc's
``malloc`` serves blocks above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and
returns them with ``munmap`` when freed, so every step page-faults all of that memory in
again; on the 2-core machine of docs/benchmarks.md that nearly doubled the time of a
``path-gnn`` step (2.41 -> 1.30 s with this module, ``benchmarks.path_speed``).
:func:`keep_freed_memory` tells glibc (``mallopt``) to take large blocks from its heap as well
(``M_MMAP_MAX = 0``) and never to give the heap's free top back (``M_TRIM_THRESHOLD``), so
freed blocks are reused without faults.

The price: the process holds its peak memory until it exits (on CDRIB's ``path-gnn`` 2.99
GiB instead of 2.43 GiB). The setting is process-wide and lasts until the process ends; the
trainer applies it once, where ``[train] keep_memory`` is true (the default), and so does
``graphrec recommend`` unless told ``--no-keep-memory``. Elsewhere (macOS, musl) nothing
happens.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4

_applied = False


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse (module docstring); True where it did so
    (now or before), False where the C library is not glibc."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(M_MMAP_MAX, 0) != 1 or mallopt(M_TRIM_THRESHOLD, 2**31 - 1) != 1:
        logger.warning("mallopt refused; freed memory goes back to the system as before")
        return False
    _applied = True
    return True


#: (limit, usage) files of the process's memory cgroup: version 2, then version 1
CGROUP_FILES = ((Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
                (Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
                 Path("/sys/fs/cgroup/memory/memory.usage_in_bytes")))


def available_bytes(device: torch.device | str = "cpu", meminfo: Path = Path("/proc/meminfo"),
                    cgroups=CGROUP_FILES) -> int | None:
    """Bytes that can still be allocated on ``device`` without swapping: a CUDA device's free
    memory; on the CPU the kernel's estimate ``MemAvailable`` (``meminfo``, Linux), or less
    where the process's memory cgroup (``cgroups``: (limit, usage) file pairs) has less
    left under its limit (a container's). None where nothing is known (another system, or a
    device type without such a count)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    found = []
    for line in _read(meminfo).splitlines():
        name, _, value = line.partition(":")
        if name == "MemAvailable":
            amount, _, unit = value.strip().partition(" ")
            found.append(int(amount) * (1024 if unit.strip() == "kB" else 1))
    for limit, usage in cgroups:
        limit, usage = _read(limit).strip(), _read(usage).strip()
        if limit.isdigit() and usage.isdigit():  # "max" (v2) or missing: no limit
            found.append(max(0, int(limit) - int(usage)))
    return min(found) if found else None


def _read(path: Path) -> str:
    """``path``'s text, or "" where it cannot be read."""
    try:
        return path.read_text()
    except OSError:
        return ""
