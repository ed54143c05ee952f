"""Run numpy's matrix products on one thread in the calling thread, for many small products.

Alignment does thousands of small and mid-sized matrix products. OpenBLAS spreads each
over all cores, and on small or shared machines the thread hand-off costs far more than
the product: measured on a 2-vCPU VM, a (45 x 2304) @ (2304 x 120) product took 20-60 ms
multi-threaded against 1-4 ms on one thread. OpenBLAS >= 0.3.27 can limit threads for
the calling thread only (openblas_set_num_threads_local), so nothing else in the process
is affected; where that is unavailable this is a no-op.
"""
from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _set_local_threads():
    """numpy's bundled OpenBLAS openblas_set_num_threads_local, or None."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "libscipy_openblas*.so")
    for path in glob.glob(libs):
        try:
            function = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        function.restype = ctypes.c_int
        function.argtypes = [ctypes.c_int]
        return function
    return None


@contextmanager
def one_blas_thread():
    set_threads = _set_local_threads()
    if set_threads is None:
        yield
        return
    previous = set_threads(1)
    try:
        yield
    finally:
        set_threads(previous)
