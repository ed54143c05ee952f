"""Content-addressed blob store under ROOT/blobs/: a blob's name is the SHA-256 of its bytes.

Writers stream: bytes are hashed as they arrive and land in a temporary object that
is moved into place on commit, so a 2 GB video never sits in memory and a failed
download never leaves a half-written blob behind.
"""
from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO

import pyarrow.fs as pafs

from featurizer.dataset.storage import DatasetRoot

BLOBS = "blobs"
INCOMING = "_incoming"
# The first bytes a validator sees before anything is stored.
SNIFF_BYTES = 512
TOO_LARGE = "too_large"


def size_text(size: int) -> str:
    """64 MiB, 2 GiB, or 1,000 bytes: a cap as a person would write it."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size:,} bytes"


class BlobTooLarge(ValueError):
    """A stored blob over the size cap of its kind of media (`media`: "GIF", "video").

    The record's fault, not storage's (its `kind` makes it a dead letter): it was stored
    before the cap was lowered, or by other means than the scrape. Raised before a byte of
    it is read or copied.
    """

    kind = TOO_LARGE

    def __init__(self, sha256: str, size: int, max_bytes: int, media: str | None = None):
        cap = f"the {size_text(max_bytes)} cap for {media}s" if media else f"the cap of {size_text(max_bytes)}"
        super().__init__(f"{media + ' ' if media else ''}blob {sha256} is {size:,} bytes, more than {cap}")
        self.sha256, self.size, self.max_bytes, self.media = sha256, size, max_bytes, media

    def __reduce__(self) -> tuple[type[BlobTooLarge], tuple[str, int, int, str | None]]:
        return (type(self), (self.sha256, self.size, self.max_bytes, self.media))


class BlobWriter:
    """A sink for one blob: `write()` chunks, then `commit()` -> (sha256, size); `reset()` starts over.

    `validate(head)` is called once with the first bytes, before they are stored, and
    may raise to refuse the content (a page where a GIF was expected, say).
    """

    def __init__(self, store: BlobStore, validate: Callable[[bytes], None] | None = None):
        self._store = store
        self._validate = validate
        self._temp_path = store.root.join(BLOBS, INCOMING, uuid.uuid4().hex)
        self._stream: BinaryIO | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = b""
        self._validated = self._validate is None

    def write(self, chunk: bytes) -> None:
        if not self._validated:
            self._head += chunk
            if len(self._head) < SNIFF_BYTES:
                return
            chunk, self._head = self._head, b""
            if self._validate is not None:
                self._validate(chunk[:SNIFF_BYTES])
            self._validated = True
        self._write_through(chunk)

    def _write_through(self, chunk: bytes) -> None:
        if self._stream is None:
            self._stream = self._store.root.fs.open_output_stream(self._temp_path)
        self._stream.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def reset(self) -> None:
        """Discard what was written (a retry after a broken download starts from byte 0)."""
        self.abort()
        self._reset_state()

    def commit(self) -> tuple[str, int]:
        if not self._validated:  # the whole body was shorter than SNIFF_BYTES
            head, self._head = self._head, b""
            if self._validate is not None:
                self._validate(head)
            self._validated = True
            if head:
                self._write_through(head)
        if self._stream is None:
            self._write_through(b"")
        if self._stream is not None:  # opened by _write_through
            self._stream.close()
        self._stream = None
        sha = self._hash.hexdigest()
        target = self._store.path_of(sha)
        fs = self._store.root.fs
        if fs.get_file_info(target).type == pafs.FileType.File:
            fs.delete_file(self._temp_path)  # same content already stored
        else:
            self._store.root.make_parent_dir(target)
            fs.move(self._temp_path, target)  # a file move: a rename on disk, copy and delete on GCS
        return sha, self._size

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
            self._store.root.fs.delete_file(self._temp_path)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.abort()


class BlobStore:
    """ROOT/blobs/<sha[:2]>/<sha>."""

    def __init__(self, root: DatasetRoot | str):
        self.root = DatasetRoot.of(root)
        self.root.makedirs(BLOBS, INCOMING)

    def path_of(self, sha256: str) -> str:
        return self.root.join(BLOBS, sha256[:2], sha256)

    def uri_of(self, sha256: str) -> str:
        return self.root.uri_of(BLOBS, sha256[:2], sha256)

    def exists(self, sha256: str) -> bool:
        return self.root.exists(BLOBS, sha256[:2], sha256)

    def writer(self, validate: Callable[[bytes], None] | None = None) -> BlobWriter:
        return BlobWriter(self, validate)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        with self.writer() as w:
            w.write(data)
            return w.commit()

    def open(self, sha256: str) -> BinaryIO:
        return self.root.fs.open_input_stream(self.path_of(sha256))

    def size_of(self, sha256: str) -> int:
        """The blob's size; FileNotFoundError when it is not stored (storage's fault, not the record's)."""
        info = self.root.fs.get_file_info(self.path_of(sha256))
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(f"no blob {sha256} at {self.uri_of(sha256)}")
        return info.size

    def check_size(self, sha256: str, max_bytes: int | None, media: str | None = None) -> None:
        """BlobTooLarge when the blob is over `max_bytes` (None: no cap)."""
        if max_bytes is None:
            return
        size = self.size_of(sha256)
        if size > max_bytes:
            raise BlobTooLarge(sha256, size, max_bytes, media)

    def read_bytes(self, sha256: str, max_bytes: int, media: str | None = None) -> bytes:
        """A small blob's bytes; BlobTooLarge for blobs over `max_bytes` rather than filling memory."""
        self.check_size(sha256, max_bytes, media)
        with self.open(sha256) as f:
            return f.read()

    @contextlib.contextmanager
    def local_path(self, sha256: str, max_bytes: int | None = None, media: str | None = None) -> Iterator[str]:
        """A path on this machine's disk to the blob, for decoders that need one.

        The blob itself on a local root; a temporary copy, streamed, on a remote one.
        BlobTooLarge, before anything is copied, for blobs over `max_bytes`.
        """
        self.check_size(sha256, max_bytes, media)
        if isinstance(self.root.fs, pafs.LocalFileSystem):
            yield self.path_of(sha256)
            return
        with tempfile.NamedTemporaryFile(prefix="gifrank-blob-") as copy:
            with self.open(sha256) as source:
                shutil.copyfileobj(source, copy, 1 << 20)
            copy.flush()
            yield copy.name

    def count(self) -> int:
        selector = pafs.FileSelector(self.root.join(BLOBS), recursive=True)
        infos = self.root.fs.get_file_info(selector)
        return sum(1 for i in infos if i.type == pafs.FileType.File and f"/{INCOMING}/" not in i.path)
