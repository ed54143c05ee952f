"""Dataset roots: a local folder or a remote URI (gs://bucket/prefix), opened through pyarrow.fs.

Every stage addresses data as ROOT/blobs/... and ROOT/tables/<table>/..., so one
filesystem handle per root serves blobs and tables alike.
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

import pyarrow.fs as pafs


@dataclass(frozen=True)
class DatasetRoot:
    """A dataset root: `uri` as given by the user, `fs` and `path` as pyarrow sees them."""

    uri: str
    fs: pafs.FileSystem
    path: str

    @classmethod
    def open(cls, uri: str) -> "DatasetRoot":
        if "://" not in uri:
            uri = os.path.abspath(uri)
        fs, path = pafs.FileSystem.from_uri(uri)
        return cls(uri=uri.rstrip("/"), fs=fs, path=path.rstrip("/"))

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

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.join(*parts)).type != pafs.FileType.NotFound

    def list_files(self, *parts: str, suffix: str = "") -> list[str]:
        """Files directly below a folder, sorted; [] when the folder does not exist."""
        selector = pafs.FileSelector(self.join(*parts), allow_not_found=True, recursive=False)
        infos = self.fs.get_file_info(selector)
        return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(suffix))

    def delete_tree(self, *parts: str) -> None:
        if self.exists(*parts):
            self.fs.delete_dir(self.join(*parts))
