"""Responses: a status, headers and a body that is either in memory or streamed from a file;
also byte ranges (Range headers) and media file responses."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from demo_world.site.pages import error_document

STREAM_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class BytesBody:
    data: bytes

    @property
    def length(self) -> int:
        return len(self.data)

    def chunks(self, limit: int) -> Iterator[bytes]:
        yield self.data[:limit]


@dataclass(frozen=True)
class FileBody:
    file: Path
    start: int
    length: int

    def chunks(self, limit: int) -> Iterator[bytes]:
        remaining = min(limit, self.length)
        with self.file.open("rb") as stream:
            stream.seek(self.start)
            while remaining > 0:
                chunk = stream.read(min(STREAM_CHUNK_BYTES, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk


@dataclass(frozen=True)
class EndlessBody:
    """Claims `length` bytes but is only ever cut off by the client, shutdown or `cap`."""
    length: int
    cap: int

    def chunks(self, limit: int) -> Iterator[bytes]:
        filler = b"\0" * STREAM_CHUNK_BYTES
        for _ in range(min(limit, self.cap) // STREAM_CHUNK_BYTES):
            yield filler


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: BytesBody | FileBody | EndlessBody = BytesBody(b"")
    headers: tuple[tuple[str, str], ...] = ()


def redirect_response(location: str) -> Response:
    return Response(302, "text/plain; charset=utf-8", headers=(("Location", location),))


def html_response(document: str, status: int = 200) -> Response:
    return Response(status, "text/html; charset=utf-8", BytesBody(document.encode("utf-8")))


class UnsatisfiableRange(ValueError):
    pass


_SINGLE_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_byte_range(header: str | None, size: int) -> range | None:
    """The byte range a Range header asks for, or None to send the whole file.

    Malformed and multi-range headers are ignored (RFC 9110 allows serving the full
    representation instead); ranges starting past the end raise UnsatisfiableRange."""
    match = _SINGLE_BYTE_RANGE.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix_length = int(last)
        if suffix_length == 0 or size == 0:
            raise UnsatisfiableRange(header)
        return range(max(0, size - suffix_length), size)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise UnsatisfiableRange(header)
    stop = min(int(last) + 1, size) if last else size
    return range(start, stop)


def media_response(file: Path, content_type: str, range_header: str | None) -> Response:
    try:
        size = file.stat().st_size
    except OSError:
        return html_response(error_document(404, "Media file is missing"), 404)
    try:
        byte_range = parse_byte_range(range_header, size)
    except UnsatisfiableRange:
        return Response(416, content_type, headers=(("Content-Range", f"bytes */{size}"),))
    if byte_range is None:
        return Response(200, content_type, FileBody(file, 0, size),
                        (("Accept-Ranges", "bytes"),))
    content_range = f"bytes {byte_range.start}-{byte_range.stop - 1}/{size}"
    return Response(206, content_type, FileBody(file, byte_range.start, len(byte_range)),
                    (("Accept-Ranges", "bytes"), ("Content-Range", content_range)))
