"""What a scrape's workers know is stored already, read from the gifs table's files of a snapshot."""
import datetime as dt

from featurizer.dataset import table_store, tables
from pipelines.scraping.known import known_gifs
from tests.rows import write_table


def _row(gif, page, video_url, video_sha, video_bytes):
    return {"gif_id": f"demo:{gif}", "source": "demo", "page_url": page, "gif_url": f"http://x/{gif}.gif",
            "gif_sha256": gif * 64, "gif_bytes": 10, "video_id": "v", "video_url": video_url,
            "video_sha256": video_sha, "video_bytes": video_bytes, "title": gif,
            "scraped_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}


def test_the_blobs_of_every_url_and_the_pages_with_rows(tmp_path):
    # two GIFs of one video URL whose rows disagree (the video changed between scrapes): the
    # smaller (sha256, size) wins, as it would in any order; a metadata row has no page
    write_table(str(tmp_path), tables.GIFS, [
        _row("a", "http://x/gif/a", "http://x/v.mp4", "f" * 64, 7),
        _row("b", "http://x/gif/b", "http://x/v.mp4", "e" * 64, 9),
        _row("c", None, "http://x/w.mp4", "d" * 64, 5),
    ])
    files = tuple(f.path for f in table_store.snapshot(str(tmp_path), tables.GIFS).files)
    known = known_gifs(str(tmp_path), files)
    assert known.pages == {"http://x/gif/a", "http://x/gif/b"}
    assert known.blobs == {"http://x/a.gif": ("a" * 64, 10), "http://x/b.gif": ("b" * 64, 10),
                           "http://x/c.gif": ("c" * 64, 10), "http://x/v.mp4": ("e" * 64, 9),
                           "http://x/w.mp4": ("d" * 64, 5)}


def test_a_table_without_files_knows_nothing(tmp_path):
    known = known_gifs(str(tmp_path), ())
    assert known.blobs == {} and known.pages == frozenset()


def test_a_new_snapshot_is_read_again(tmp_path):
    write_table(str(tmp_path), tables.GIFS, [_row("a", "http://x/gif/a", "http://x/v.mp4", "f" * 64, 7)])
    first = tuple(f.path for f in table_store.snapshot(str(tmp_path), tables.GIFS).files)
    assert known_gifs(str(tmp_path), first).pages == {"http://x/gif/a"}
    write_table(str(tmp_path), tables.GIFS, [_row("a", "http://x/gif/a", "http://x/v.mp4", "f" * 64, 7),
                                                          _row("b", "http://x/gif/b", "http://x/v.mp4", "f" * 64, 7)])
    second = tuple(f.path for f in table_store.snapshot(str(tmp_path), tables.GIFS).files)
    assert known_gifs(str(tmp_path), second).pages == {"http://x/gif/a", "http://x/gif/b"}
