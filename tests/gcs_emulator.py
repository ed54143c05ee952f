"""A real GCS JSON API server on loopback, for gs:// dataset roots in tests.

It is gcp-storage-emulator's request handler and in-memory storage (pinned in
requirements-dev.txt) served from this process on a free port, one request at a time.
"""
from __future__ import annotations

import functools
import http.server
import threading


class GcsEmulator:
    """`with GcsEmulator() as gcs:` serves until the block ends; `gcs.host` is for STORAGE_EMULATOR_HOST."""

    def __init__(self):
        from gcp_storage_emulator.server import RequestHandler
        from gcp_storage_emulator.storage import Storage

        self._storage = Storage(use_memory_fs=True)
        handler = functools.partial(RequestHandler, self._storage)
        self._httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="gcs-emulator", daemon=True)
        self.host = f"http://127.0.0.1:{self._httpd.server_port}"

    def create_bucket(self, name: str) -> str:
        """A new empty bucket; returns its gs:// URI."""
        from gcp_storage_emulator.handlers.buckets import create_bucket

        if not create_bucket(name, self._storage):
            raise ValueError(f"bucket {name!r} exists")
        return f"gs://{name}"

    def __enter__(self) -> "GcsEmulator":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
