"""A larger site from a small world: many GIF entries sharing the same media files.

Benchmarks and fault tests need more GIF pages than a tiny world has; serving the
same files under new ids exercises the scraper exactly like distinct GIFs would.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def _linked_world(world_root, dest) -> tuple[dict, Path]:
    """(the source world's manifest, dest): dest's media folders link to the source's."""
    source, dest = Path(world_root).resolve(), Path(dest)
    manifest = json.loads((source / "manifest.json").read_text())
    dest.mkdir(parents=True, exist_ok=True)
    for folder in ("videos", "gifs"):
        link = dest / folder
        if not link.exists():
            link.symlink_to(source / folder, target_is_directory=True)
    return manifest, dest


def subset_world(world_root: str | os.PathLike, dest: str | os.PathLike, gif_ids) -> Path:
    """Writes a world at `dest` whose site lists only the GIFs `gif_ids` of the source world (the
    same media): the site as it was before its other GIFs were made, for refresh tests."""
    manifest, dest = _linked_world(world_root, dest)
    wanted = set(gif_ids)
    (dest / "manifest.json").write_text(json.dumps({**manifest,
                                                    "gifs": [g for g in manifest["gifs"] if g["gif_id"] in wanted]}))
    return dest


def replicate_world(world_root: str | os.PathLike, dest: str | os.PathLike, num_gifs: int,
                    gifs_per_video: float | None = None) -> Path:
    """Writes a world at `dest` with `num_gifs` GIF entries cycling over the source world's GIFs.

    Without `gifs_per_video` they all share the source world's few videos. With it, they get
    videos of their own (the same files under new ids), about that many GIFs to a video, so
    work grouped by video grows with the input as it does on a real site (the paper's
    dataset: 120K GIFs from 85K videos, 1.4).
    """
    manifest, dest = _linked_world(world_root, dest)
    originals = manifest["gifs"]
    videos = {v["video_id"]: v for v in manifest["videos"]}
    gifs: list[dict] = []
    new_videos: dict[str, dict] = {}
    per_source: dict[str, int] = {}
    for i in range(num_gifs):
        gif = dict(originals[i % len(originals)])
        gif["gif_id"] = f"r{i:06d}"
        gif["title"] = f"{gif['title']} #{i}"
        if gifs_per_video:
            source = gif["video_id"]
            nth = per_source[source] = per_source.get(source, -1) + 1
            gif["video_id"] = f"{source}r{int(nth / gifs_per_video):06d}"
            new_videos.setdefault(gif["video_id"], {**videos[source], "video_id": gif["video_id"]})
        gifs.append(gif)
    replicated = {**manifest, "gifs": gifs}
    if gifs_per_video:
        replicated["videos"] = list(new_videos.values())
    (dest / "manifest.json").write_text(json.dumps(replicated))
    return dest
