"""Rows for tests: a world's GIFs as a scrape stores them, alignments as the truth has them,
dead letters; and a table replaced as a committed run would."""
import datetime as dt


def gif_rows_from_world(world, blobs):
    """gifs-table rows for a world's GIFs, their media put into `blobs` (as a scrape would)."""
    videos = {v["video_id"]: v for v in world.videos}
    rows = []
    for gif in world.gifs:
        video = videos[gif["video_id"]]
        gif_sha, gif_bytes = blobs.put_bytes(world.gif_path(gif["gif_id"]).read_bytes())
        video_sha, video_bytes = blobs.put_bytes(world.video_path(video["video_id"]).read_bytes())
        rows.append({
            "gif_id": f"demo:{gif['gif_id']}", "source": "demo", "page_url": None,
            "gif_url": f"http://demo.test/media/gifs/{gif['gif_id']}.gif", "gif_sha256": gif_sha,
            "gif_bytes": gif_bytes, "video_id": video["video_id"],
            "video_url": f"http://demo.test/media/videos/{video['video_id']}.mp4",
            "video_sha256": video_sha, "video_bytes": video_bytes, "title": gif["title"], "views": gif["views"],
            "upload_date": dt.date.fromisoformat(gif["upload_date"]), "tags": gif["tags"],
            "category": gif["category"], "video_title": video["title"],
            "scraped_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        })
    return rows


def write_table(root, spec, rows):
    """Replaces a table's content with `rows`, as a committed pipeline run would."""
    from featurizer.dataset import table_store

    table_store.replace_table(str(root), spec, rows)


def alignment_rows(world, gif_rows):
    """Alignments as the truth has them (the align stage is tested on its own)."""
    truth = {f"demo:{g['gif_id']}": g["truth"] for g in world.gifs}
    return [{
        "gif_id": r["gif_id"], "video_id": r["video_id"], "gif_sha256": r["gif_sha256"],
        "video_sha256": r["video_sha256"], "start_sec": truth[r["gif_id"]]["start_sec"],
        "end_sec": truth[r["gif_id"]]["end_sec"], "start_frame": truth[r["gif_id"]]["start_frame"],
        "end_frame": truth[r["gif_id"]]["end_frame"], "speed": truth[r["gif_id"]]["speed"], "confidence": 1.0,
        "inlier_share": 1.0, "mirrored": False, "crop": None, "distance_mean": 0.0, "distance_median": 0.0,
        "video_fps": 25.0, "video_num_frames": 0, "aligner": "truth",
    } for r in gif_rows]


def dead_letter_row(i):
    return {"pipeline": "scrape", "stage": "gif_page", "record_key": f"k{i:03d}", "url": f"http://x/{i}",
            "gif_id": None, "error_kind": "http_404", "message": "gone",
            "failed_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}
