"""Run numpy's matrix products, and OpenCV, on one thread, for many small operations.

Alignment does thousands of small and mid-sized matrix products. OpenBLAS spreads each
over all cores, and on small or shared machines the thread hand-off costs far more than
the product: measured on a 2-vCPU VM, a (45 x 2304) @ (2304 x 120) product took 20-60 ms
multi-threaded against 1-4 ms on one thread. OpenBLAS >= 0.3.27 can limit threads for
the calling thread only (openblas_set_num_threads_local), so nothing else in the process
is affected; where that is unavailable this is a no-op.

OpenCV splits even small resizes over its thread pool, which costs more than it saves
(about 10% of alignment time on a busy 2-core machine). Its thread count is process-wide,
so one_opencv_thread counts its users and restores the setting when the last one leaves.
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading
from contextlib import contextmanager
from functools import lru_cache

import cv2
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


_opencv_lock = threading.Lock()
_opencv_users = 0
_opencv_threads_before = 0


@contextmanager
def one_opencv_thread():
    global _opencv_users, _opencv_threads_before
    with _opencv_lock:
        if _opencv_users == 0:
            _opencv_threads_before = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _opencv_users += 1
    try:
        yield
    finally:
        with _opencv_lock:
            _opencv_users -= 1
            if _opencv_users == 0:
                cv2.setNumThreads(_opencv_threads_before)
