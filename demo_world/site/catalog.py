"""The world: manifest entries, validated and indexed once at startup.

World layout (all paths in the manifest are relative to the world root)::

    WORLD_ROOT/manifest.json  {"version": 1, "videos": [...], "gifs": [...]}
"""
from __future__ import annotations

import collections
import datetime
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class VideoEntry:
    video_id: str
    title: str
    file: Path
    width: int | None
    height: int | None


@dataclass(frozen=True)
class GifEntry:
    gif_id: str
    video_id: str
    title: str
    file: Path
    views: int
    uploaded: datetime.date
    tags: tuple[str, ...]
    category: str


def category_slug(category: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-") or "uncategorized"


def _world_file(world_root: Path, relative_path: str, entry_id: str) -> Path:
    """Resolve a manifest path, refusing ones that escape the world (the server must never
    become a way to read arbitrary files). Checked lexically, so a world may symlink its
    media from a cache elsewhere."""
    file = Path(os.path.normpath(world_root / relative_path))
    if not file.is_relative_to(world_root):
        raise ValueError(f"{entry_id}: path {relative_path!r} is outside the world root")
    return file


def _require_keys(entry: dict, keys: tuple[str, ...], kind: str) -> None:
    missing = [key for key in keys if key not in entry]
    if missing:
        raise ValueError(f"manifest {kind} entry {entry!r:.200} lacks {missing}")


def _parse_video(entry: dict, world_root: Path) -> VideoEntry:
    _require_keys(entry, ("video_id", "path", "title"), "video")
    return VideoEntry(
        video_id=entry["video_id"],
        title=entry["title"],
        file=_world_file(world_root, entry["path"], entry["video_id"]),
        width=entry.get("width"),
        height=entry.get("height"),
    )


def _parse_gif(entry: dict, world_root: Path) -> GifEntry:
    _require_keys(entry, ("gif_id", "video_id", "path", "title", "views", "upload_date"), "gif")
    return GifEntry(
        gif_id=entry["gif_id"],
        video_id=entry["video_id"],
        title=entry["title"],
        file=_world_file(world_root, entry["path"], entry["gif_id"]),
        views=int(entry["views"]),
        uploaded=datetime.date.fromisoformat(entry["upload_date"]),
        tags=tuple(entry.get("tags", ())),
        category=entry.get("category") or "Uncategorized",
    )


def _index_by_id(entries: list, id_field: str) -> dict:
    index = {}
    for entry in entries:
        entry_id = getattr(entry, id_field)
        if entry_id in index:
            raise ValueError(f"manifest has duplicate {id_field} {entry_id!r}")
        index[entry_id] = entry
    return index


class DemoWorld:
    """The manifest of a demo world. Media files are not read here: they are streamed from
    disk per request, so many GIF entries may share one file and huge videos cost nothing."""

    def __init__(self, world_root: str | os.PathLike):
        self.root = Path(world_root).resolve()
        manifest = json.loads((self.root / MANIFEST_NAME).read_text(encoding="utf-8"))
        videos = [_parse_video(entry, self.root) for entry in manifest.get("videos", [])]
        gifs = [_parse_gif(entry, self.root) for entry in manifest.get("gifs", [])]
        self.videos: dict[str, VideoEntry] = _index_by_id(videos, "video_id")
        self.gifs: dict[str, GifEntry] = _index_by_id(gifs, "gif_id")
        self.gifs_newest_first: list[GifEntry] = sorted(
            gifs, key=lambda gif: (-gif.uploaded.toordinal(), gif.gif_id))
        self.category_names: dict[str, str] = {}
        self.gifs_by_category: dict[str, list[GifEntry]] = collections.defaultdict(list)
        for gif in self.gifs_newest_first:
            slug = category_slug(gif.category)
            self.category_names.setdefault(slug, gif.category)
            self.gifs_by_category[slug].append(gif)
        self.gifs_by_video: dict[str, list[GifEntry]] = collections.defaultdict(list)
        for gif in self.gifs_newest_first:
            self.gifs_by_video[gif.video_id].append(gif)
