"""Dataset roots: a local folder or a remote URI (gs://bucket/prefix), opened through pyarrow.fs.

Every stage addresses data as ROOT/blobs/... and ROOT/tables/<table>/..., so one
filesystem handle per root serves blobs and tables alike.

gs:// roots use Google's default credentials, unless STORAGE_EMULATOR_HOST names a
GCS emulator or another endpoint (``http://127.0.0.1:9023``, or ``host:port`` for
plain http), as it does for Google's own clients: then requests go there, anonymously.
On object stores folders are only prefixes of object names; code here never relies on
a folder having been created. Files users name (--segments) may be a file, a folder or a
glob pattern, local or gs:// alike (matching_files).
"""
from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow.fs as pafs

EMULATOR_HOST_ENV = "STORAGE_EMULATOR_HOST"
GCS_SCHEMES = ("gs", "gcs")
# Filesystems whose folders are implicit: nothing needs creating before a file is written.
OBJECT_STORES = ("gcs", "s3")


def _gcs_for_endpoint(host: str) -> pafs.GcsFileSystem:
    scheme, sep, endpoint = host.partition("://")
    if not sep:
        scheme, endpoint = "http", host
    return pafs.GcsFileSystem(anonymous=True, scheme=scheme, endpoint_override=endpoint.rstrip("/"))


def open_file_system(uri: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path) for a local path or a URI, gs:// emulator included."""
    return _filesystem(uri if "://" in uri else os.path.abspath(uri))


def _filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    scheme, _, rest = uri.partition("://")
    emulator = os.environ.get(EMULATOR_HOST_ENV)
    if scheme in GCS_SCHEMES and emulator:
        return _gcs_for_endpoint(emulator), rest
    return pafs.FileSystem.from_uri(uri)


_GLOB_CHARS = frozenset("*?[")


def matching_files(pattern: str, suffix: str | None = None) -> list[str]:
    """The files a user's path or pattern names, local or remote (gs://), sorted: a file itself;
    a folder's files, recursively, those ending in `suffix` when given; or the files a glob
    pattern matches (`*`, `?` and `[...]` within a name, `**` any number of folders). Each is
    given as the pattern was (a path, or a URI of its scheme). Raises FileNotFoundError when
    none matches."""
    fs, path = open_file_system(pattern)
    scheme, sep, _ = pattern.partition("://")
    prefix = f"{scheme}://" if sep else ""
    parts = path.split("/")
    first_glob = next((i for i, part in enumerate(parts) if _GLOB_CHARS & set(part)), None)
    if first_glob is None:
        found = fs.get_file_info(path)
        if found.type == pafs.FileType.File:
            paths = [path]
        elif found.type == pafs.FileType.Directory:
            paths = [p for p in _files_below(fs, path, recursive=True) if p.endswith(suffix or "")]
        else:
            paths = []
    else:
        base = "/".join(parts[:first_glob])
        if not base.strip("/"):
            raise ValueError(f"{pattern}: a pattern needs a folder without wildcards to start from")
        rest = parts[first_glob:]
        below = _files_below(fs, base, recursive=len(rest) > 1 or "**" in rest)
        matcher = re.compile(re.escape(base + "/") + _glob_regex(rest))
        paths = [p for p in below if matcher.fullmatch(p)]
    if not paths:
        raise FileNotFoundError(f"{pattern}: no file matches")
    return [prefix + p for p in sorted(paths)]


def expand_patterns(arguments: Sequence[str]) -> list[str]:
    """Command-line file arguments with each glob pattern replaced by the files it matches
    (matching_files: for patterns a shell did not expand, quoted or gs://); other arguments
    stay as given, for the command to check."""
    expanded: list[str] = []
    for argument in arguments:
        has_pattern = _GLOB_CHARS & set(argument.partition("://")[2] or argument)
        expanded += matching_files(argument) if has_pattern else [argument]
    return expanded


def _files_below(fs: pafs.FileSystem, folder: str, recursive: bool) -> list[str]:
    selector = pafs.FileSelector(folder, allow_not_found=True, recursive=recursive)
    return [i.path for i in fs.get_file_info(selector) if i.type == pafs.FileType.File]


def _glob_regex(parts: list[str]) -> str:
    """A regex of path names below a folder for a pattern's parts (split at "/"): `**` alone in a
    part matches any number of folders (none included), `*` and `?` never match a "/"."""
    regex = ""
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        if part == "**":
            regex += "(?:[^/]+/)*[^/]+" if last else "(?:[^/]+/)*"
            continue
        regex += _name_regex(part) + ("" if last else "/")
    return regex


def _name_regex(part: str) -> str:
    """A regex of one name for a glob of one name: `*`, `?` and `[...]` (`[!...]`: none of them)."""
    out, i = "", 0
    while i < len(part):
        char = part[i]
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[" and (end := _class_end(part, i)) > i:
            body = part[i + 1:end]
            negated = body.startswith("!")
            body = body[1:] if negated else body
            out += "[" + ("^/" if negated else "") + body.replace("\\", "\\\\").replace("^", "\\^") + "]"
            i = end
        else:
            out += re.escape(char)
        i += 1
    return out


def _class_end(part: str, start: int) -> int:
    """Where the class opened at `start` closes (a "]" first in it is one of its characters); -1: it does not."""
    i = start + 1
    if part[i:i + 1] == "!":
        i += 1
    if part[i:i + 1] == "]":
        i += 1
    return part.find("]", i)


class RootNotWritable(ValueError):
    """A dataset root or output folder this process cannot write."""


@dataclass(frozen=True)
class DatasetRoot:
    """A dataset root: `uri` as given by the user, `fs` and `path` as pyarrow sees them."""

    uri: str
    fs: pafs.FileSystem
    path: str

    @classmethod
    def open(cls, uri: str) -> DatasetRoot:
        if "://" not in uri:
            uri = os.path.abspath(uri)
        fs, path = _filesystem(uri)
        return cls(uri=uri.rstrip("/"), fs=fs, path=path.rstrip("/"))

    @classmethod
    def of(cls, root: DatasetRoot | str) -> DatasetRoot:
        """A root as callers pass it: opened already, or its URI or path."""
        return root if isinstance(root, DatasetRoot) else cls.open(root)

    def join(self, *parts: str) -> str:
        """A filesystem path (for `fs`) below the root."""
        return posixpath.join(self.path, *parts)

    def uri_of(self, *parts: str) -> str:
        """A user-facing URI below the root."""
        return posixpath.join(self.uri, *parts)

    def makedirs(self, *parts: str) -> str:
        path = self.join(*parts)
        self.fs.create_dir(path, recursive=True)
        return path

    def make_parent_dir(self, path: str) -> None:
        """Makes the folder that will hold `path` (a filesystem path) where folders are real."""
        if self.fs.type_name not in OBJECT_STORES:
            self.fs.create_dir(posixpath.dirname(path), recursive=True)

    def check_writable(self) -> None:
        """Writes and deletes a small probe object at the root: a root this process cannot write
        (a file, a folder below a file, no permission, a read-only disk, a bucket it may not write)
        is a clear error here, before a pipeline or command starts, not a traceback after its work."""
        blocking = self.blocking_file()
        if blocking == self.path:
            raise RootNotWritable(f"{self.uri}: a file, not a folder")
        if blocking:
            raise RootNotWritable(f"{self.uri}: cannot be a folder, {blocking} is a file")
        probe = self.join(f".gifrank-write-probe-{uuid.uuid4().hex}")
        try:
            self.make_parent_dir(probe)
            with self.fs.open_output_stream(probe) as out:
                out.write(b"ok")
            self.fs.delete_file(probe)
        except OSError as exc:
            raise RootNotWritable(f"{self.uri}: cannot write here ({exc})") from exc

    def blocking_file(self) -> str | None:
        """The root, or the nearest existing path above it, when that is a file: nothing can be
        written below a file. None on object stores, where folders are only name prefixes."""
        if self.fs.type_name in OBJECT_STORES:
            return None
        path = self.path
        while True:
            found = self.fs.get_file_info(path).type
            if found != pafs.FileType.NotFound:
                return path if found == pafs.FileType.File else None
            parent = posixpath.dirname(path)
            if parent == path:
                return None
            path = parent

    def check_exists(self) -> None:
        """A root with nothing stored there is an error (a mistyped --dataset), never an empty
        dataset; on object stores, a prefix with no object below it is not there either."""
        found = self.fs.get_file_info(self.path).type
        if found == pafs.FileType.NotFound:
            raise FileNotFoundError(f"{self.uri}: no such dataset (nothing is stored there)")
        if found == pafs.FileType.File:
            raise FileNotFoundError(f"{self.uri}: a file, not a dataset folder")

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Writes one whole file below the root (its folder made where folders are real); its URI."""
        path = self.join(*parts)
        self.make_parent_dir(path)
        with self.fs.open_output_stream(path) as out:
            out.write(data)
        return self.uri_of(*parts)

    def put_folder(self, local: str, *parts: str) -> str:
        """Copies the files of a local folder (not its subfolders) into a folder below the root,
        replacing that folder whole, so nothing of an earlier copy outlives this one; its URI."""
        self.delete_tree(*parts)
        for name in sorted(os.listdir(local)):
            source = os.path.join(local, name)
            if os.path.isfile(source):
                with open(source, "rb") as f:
                    self.write_bytes(f.read(), *parts, name)
        return self.uri_of(*parts)

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.join(*parts)).type != pafs.FileType.NotFound

    def list_files(self, *parts: str, suffix: str = "") -> list[str]:
        """Files directly below a folder, sorted; [] when the folder does not exist."""
        selector = pafs.FileSelector(self.join(*parts), allow_not_found=True, recursive=False)
        infos = self.fs.get_file_info(selector)
        return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(suffix))

    def delete_tree(self, *parts: str) -> None:
        """Deletes a folder and everything below it; nothing when there is no such folder.

        On GCS a folder may exist only as the prefix of its objects, with no marker
        object for `delete_dir` to delete, so the contents go first.
        """
        path = self.join(*parts)
        self.fs.delete_dir_contents(path, missing_dir_ok=True)
        if self.exists(*parts):
            self.fs.delete_dir(path)


def check_output_file(uri: str) -> None:
    """Where a command will write one file (a path or URI): not a folder, in a folder this process
    can write. Checked before the work, so a bad --out is a one-line error, not a traceback after it."""
    fs, path = open_file_system(uri)
    if fs.type_name not in OBJECT_STORES and fs.get_file_info(path).type == pafs.FileType.Directory:
        raise RootNotWritable(f"{uri}: a folder, not a file")
    folder = DatasetRoot.open(posixpath.dirname(uri) if "://" in uri else os.path.dirname(os.path.abspath(uri)))
    blocking = folder.blocking_file()
    if blocking:
        raise RootNotWritable(f"{uri}: cannot be written, {blocking} is a file")
    folder.check_writable()


def delta_storage_options(root: DatasetRoot) -> dict[str, str] | None:
    """Storage options for delta-rs (featurizer.dataset.table_store) on this root: None for a local
    folder or Google's own GCS (default credentials); for an emulator, its endpoint.

    delta-rs does not read STORAGE_EMULATOR_HOST, so the endpoint goes in a service-account
    key of its own kind (object_store's gcs_base_url, with OAuth off).
    """
    emulator = os.environ.get(EMULATOR_HOST_ENV)
    if root.fs.type_name != "gcs" or not emulator:
        return None
    import json

    base = emulator if "://" in emulator else f"http://{emulator}"
    key = {"gcs_base_url": base.rstrip("/"), "disable_oauth": True, "client_email": "", "private_key": "",
           "private_key_id": ""}
    return {"google_service_account_key": json.dumps(key), "allow_http": "true"}


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[str]:
    """A path on this machine to a file named by a path or URI (gs://bucket/weights.h5): the file
    itself when local, else a temporary copy. Workers read user-supplied files (C3D weights,
    site adapters) through this, never from the launching machine's disk."""
    if "://" not in uri or uri.startswith("file://"):
        path = uri[len("file://"):] if uri.startswith("file://") else uri
        if not os.path.exists(path):
            raise FileNotFoundError(f"{uri}: no such file")
        yield path
        return
    fs, path = _filesystem(uri)
    suffix = os.path.splitext(path)[1]
    with tempfile.NamedTemporaryFile(prefix="gifrank-copy-", suffix=suffix) as copy:
        try:
            source = fs.open_input_stream(path)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{uri}: no such file") from exc
        with source:
            shutil.copyfileobj(source, copy, 1 << 20)
        copy.flush()
        yield copy.name
