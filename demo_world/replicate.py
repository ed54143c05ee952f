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


def replicate_world(world_root: str | os.PathLike, dest: str | os.PathLike, num_gifs: int) -> Path:
    """Writes a world at `dest` with `num_gifs` GIF entries cycling over the source world's GIFs."""
    manifest, dest = _linked_world(world_root, dest)
    originals = manifest["gifs"]
    gifs = []
    for i in range(num_gifs):
        gif = dict(originals[i % len(originals)])
        gif["gif_id"] = f"r{i:06d}"
        gif["title"] = f"{gif['title']} #{i}"
        gifs.append(gif)
    (dest / "manifest.json").write_text(json.dumps({**manifest, "gifs": gifs}))
    return dest
