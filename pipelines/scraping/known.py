"""What earlier runs stored, as a scrape's workers look it up: the blobs stored for each URL,
and the GIF pages the gifs table has.

Each worker process reads it once, from the gifs table's files in the snapshot the run
read, rather than taking it as a side input: DirectRunner holds a side input whole in its own
process and hands every worker a copy, so a refresh's memory grew with the table
(bench.fault_load).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from featurizer.dataset import table_store, tables

COLUMNS = ["page_url", "gif_url", "gif_sha256", "gif_bytes", "video_url", "video_sha256", "video_bytes"]


@dataclass(frozen=True)
class KnownGifs:
    blobs: dict[str, tuple[str, int]]  # URL -> (sha256, size) of its stored blob
    pages: frozenset[str]  # GIF page URLs with a row


@functools.lru_cache(maxsize=1)  # the snapshot of the run in progress
def known_gifs(dataset: str, files: tuple[str, ...]) -> KnownGifs:
    """The blobs and pages the gifs table's `files` hold; read once per process and snapshot."""
    blobs: dict[str, tuple[str, int]] = {}
    pages = set()
    for batch in table_store.iter_file_batches(dataset, tables.GIFS, files, COLUMNS):
        for row in batch.to_pylist():
            for url, blob in ((row["gif_url"], (row["gif_sha256"], row["gif_bytes"])),
                              (row["video_url"], (row["video_sha256"], row["video_bytes"]))):
                # one URL stored twice (two rows of one video): the same choice whatever the order
                blobs[url] = min(blob, blobs.get(url, blob))
            if row["page_url"]:
                pages.add(row["page_url"])
    return KnownGifs(blobs=blobs, pages=frozenset(pages))
