"""Rows for tests: a world's GIFs as a scrape stores them, alignments as the truth has them,
dead letters; and a table's content written as a committed run would."""
import datetime as dt

import numpy as np

SEGMENTER, EXTRACTOR = "changepoint-v1/max=6s", "c3d-random/fps=native/stride=8/mirror"


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
    """Makes `rows` a table's content, as a committed pipeline run would (table_writes.write_rows, the
    writer WriteTable's bucket rewrites are); returns the new version, None when nothing changed. A
    table of buckets == 0 (features) takes new files only: its files are written once."""
    from featurizer.dataset.storage import DatasetRoot
    from featurizer.dataset.table_writes import every_row, write_rows

    return write_rows(root if isinstance(root, DatasetRoot) else str(root), spec, rows, replace_scope=every_row)


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


def feature_rows(video: int, segments: int, extractor=EXTRACTOR, without_snippets=(), segmenter=SEGMENTER):
    """A features file's rows: video `video`'s segments of 20 frames, fc6 all video * 100 + segment
    (zeros, no snippet, for those in `without_snippets`)."""
    return [{"video_sha256": f"{video:064x}", "segmenter": segmenter, "feature_extractor": extractor,
             "segment_index": i, "start_frame": 20 * i, "end_frame": 20 * i + 20, "start_sec": 0.8 * i,
             "end_sec": 0.8 * i + 0.8, "fps": 25.0, "video_num_frames": 20 * segments,
             "snippets": 0 if i in without_snippets else 1,
             "features": np.zeros(4096, np.float32) if i in without_snippets
             else np.full(4096, video * 100 + i, np.float32)} for i in range(segments)]


def label_rows(video: int, segments: int, segmenter=SEGMENTER, split="train"):
    """The labels of feature_rows' segments: odd segments positive, GIF g<video>."""
    return [{"video_sha256": f"{video:064x}", "segmenter": segmenter, "video_id": f"v{video}", "segment_index": i,
             "start_frame": 20 * i, "end_frame": 20 * i + 20, "start_sec": 0.8 * i, "end_sec": 0.8 * i + 0.8,
             "fps": 25.0, "video_num_frames": 20 * segments, "label": i % 2, "gif_ids": [f"g{video}"] if i % 2 else [],
             "popularity": 0.5 if i % 2 else None, "context": [float(i)], "context_tags_from": "gifs", "split": split}
            for i in range(segments)]


def job_gif_row(gif_id, video, **extra):
    """The gifs-table fields a video job reads, of a GIF of video `video` (sha-<video>)."""
    return {"gif_id": gif_id, "video_sha256": f"sha-{video}", "video_id": video, "video_url": f"http://x/{video}.mp4",
            "source": "siteA", "views": None, "upload_date": None, "scraped_at": None, "category": None, "tags": [],
            **extra}


def job_alignment_row(gif_id, video, start, end, confidence=0.9):
    """The alignments-table fields a video job reads."""
    return {"gif_id": gif_id, "video_sha256": f"sha-{video}", "start_frame": start, "end_frame": end,
            "confidence": confidence}
