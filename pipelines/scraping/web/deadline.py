"""Deadlines for whole responses: a server that drips a byte a second never holds a worker.

requests and urllib3 only bound each socket operation (connect, one read), so a body that
keeps trickling in, or headers sent a byte at a time, is never cut off. A ResponseDeadline
is started around one attempt (HttpClient._get); every socket used inside it, in that thread,
registers with it (transport._DeadlineBoundConnection); when the deadline passes, a watchdog
thread shuts those sockets down, which wakes the blocked read at once.
"""
from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time

from pipelines.scraping.web.errors import TIMEOUT, FetchError

_current = threading.local()


class ResponseDeadline:
    """One attempt's deadline; a context manager that makes it the thread's current one."""

    def __init__(self, seconds: float, url: str):
        self.seconds = seconds
        self.url = url
        self.expires_at = time.monotonic() + seconds
        self.expired = False
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._outer: ResponseDeadline | None = None

    @staticmethod
    def current() -> ResponseDeadline | None:
        return getattr(_current, "deadline", None)

    def __enter__(self) -> ResponseDeadline:
        self._outer = ResponseDeadline.current()
        _current.deadline = self
        _WATCHDOG.watch(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _current.deadline = self._outer
        with self._lock:
            self._sockets.clear()  # from now on the watchdog leaves them alone

    def guard(self, sock: socket.socket | None) -> None:
        """A connection about to be used in this attempt, or its new socket: cut off at the deadline.
        (A socket, not its connection: http.client hands a response that reads to the end of the
        stream its socket, and forgets it on the connection.)"""
        if time.monotonic() >= self.expires_at:
            self.expire()
            raise self.error()
        if sock is not None:
            with self._lock:
                self._sockets.add(sock)

    def expire(self) -> None:
        """Called by the watchdog: shuts down every socket of the attempt."""
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                # socket.socket's own shutdown, also for an SSLSocket (whose override would drop its
                # SSL object under the reading thread): the peer's side of the TCP stream ends.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its owner

    def error(self) -> FetchError:
        return FetchError(TIMEOUT, self.url, f"no complete response within {self.seconds:g} s")


class _Watchdog:
    """One daemon thread for the process: sleeps until the next deadline, expires what is due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, ResponseDeadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: ResponseDeadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.expires_at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="gifrank-deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                expires_at, _order, deadline = self._heap[0]
                delay = expires_at - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._heap)
            deadline.expire()  # an attempt that already ended has no sockets left: nothing happens


_WATCHDOG = _Watchdog()
