"""Keeping freed memory in the process: ``[train] keep_memory``.

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
