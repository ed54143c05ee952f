"""A small dataset for evaluation tests, written straight into the tables (no media): videos
with segments, fc6 features, labels and aligned GIFs; and a tiny exported ranker."""
import datetime as dt

import numpy as np

from featurizer.dataset import tables
from tests.rows import write_table

SEGMENTER, EXTRACTOR = "changepoint-v2 test", "c3d-test"


def build_dataset(root, videos=8, segments=6, frames_per_segment=10, seed=0, second_gifs=()):
    """Test videos v0.. of `segments` segments each: v0's GIF alignment is too unsure to trust
    and it has no published span (excluded: no aligned GIF); v1 has no features (excluded).
    The videos numbered in `second_gifs` have a second GIF, 7 frames after the first."""
    rng = np.random.default_rng(seed)
    gifs, alignments, labels, features = [], [], [], []
    for v in range(videos):
        video_id, sha = f"v{v}", f"{v:064x}"
        num_frames = segments * frames_per_segment
        start = int(rng.integers(0, num_frames - 15))
        for g, gif_start in enumerate([start] + ([min(start + 7, num_frames - 15)] if v in second_gifs else [])):
            gif_id = f"g{v}" + (f"-{g}" if g else "")
            gif = {"gif_id": gif_id, "source": "demo", "page_url": None, "gif_url": f"http://x/{gif_id}.gif",
                   "gif_sha256": f"{v + 100 + 1000 * g:064x}", "gif_bytes": 1, "video_id": video_id,
                   "video_url": f"http://x/{v}.mp4", "video_sha256": sha, "video_bytes": 1, "views": 10,
                   "upload_date": dt.date(2025, 1, 1), "scraped_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}
            gifs.append(gif)
            alignments.append({"gif_id": gif_id, "video_id": video_id, "gif_sha256": gif["gif_sha256"],
                               "video_sha256": sha, "start_sec": gif_start / 25, "end_sec": (gif_start + 15) / 25,
                               "start_frame": gif_start, "end_frame": gif_start + 15, "speed": 1.0,
                               "confidence": 0.01 if v == 0 else 1.0, "inlier_share": 1.0, "mirrored": False,
                               "video_fps": 25.0, "video_num_frames": num_frames, "aligner": "truth"})
        gif = gifs[-1 - (v in second_gifs)]
        for s in range(segments):
            bounds = {"segment_index": s, "start_frame": s * frames_per_segment,
                      "end_frame": (s + 1) * frames_per_segment, "start_sec": s * frames_per_segment / 25,
                      "end_sec": (s + 1) * frames_per_segment / 25, "fps": 25.0, "video_num_frames": num_frames}
            covered = bounds["start_frame"] < start + 15 and start < bounds["end_frame"]
            labels.append({"video_sha256": sha, "segmenter": SEGMENTER, "video_id": video_id, **bounds,
                           "label": int(covered), "gif_ids": [gif["gif_id"]] if covered else [],
                           "context": [float(s), 1.0], "split": "test" if v < videos - 1 else "train"})
            if v != 1:
                features.append({"video_sha256": sha, "segmenter": SEGMENTER, "feature_extractor": EXTRACTOR,
                                 **bounds, "snippets": 2,
                                 "features": rng.uniform(0, 2, tables.C3D_FEATURES).astype(np.float32)})
    for spec, rows in ((tables.GIFS, gifs), (tables.ALIGNMENTS, alignments), (tables.LABELS, labels),
                       (tables.FEATURES, features)):
        write_table(root, spec, rows)
    return {"test_videos": videos - 1}


def export_ranker(job_dir, context_dim=0, seed=0):
    """A tiny real ranker exported as gifrank train does; returns its model folder."""
    from trainer.export import export_model
    from trainer.job_dir import JobDir
    from trainer.model import Architecture, build_scorer

    arch = Architecture(context_dim=context_dim, hidden_units=(8, 4), input_scale=0.5)
    job = JobDir(str(job_dir))
    export_model(build_scorer(arch, seed), arch, job)
    return job.model.uri


def build_media_dataset(root, world, frames_per_segment=20, seed=0):
    """The tiny world's videos and GIFs in a dataset, every video a test video with segments of
    `frames_per_segment` frames, random fc6 and labels from the GIFs' true spans."""
    from featurizer.dataset.blobs import BlobStore
    from featurizer.media.video import probe_video
    from tests.rows import alignment_rows, gif_rows_from_world

    rng = np.random.default_rng(seed)
    gifs = gif_rows_from_world(world, BlobStore(str(root)))
    alignments = alignment_rows(world, gifs)
    labels, features = [], []
    for video in world.videos:
        mine = [a for a in alignments if a["video_id"] == video["video_id"]]
        sha = mine[0]["video_sha256"]
        info = probe_video(str(world.video_path(video["video_id"])))
        for s, start in enumerate(range(0, info.num_frames - frames_per_segment + 1, frames_per_segment)):
            end = start + frames_per_segment
            bounds = {"segment_index": s, "start_frame": start, "end_frame": end, "start_sec": start / info.fps,
                      "end_sec": end / info.fps, "fps": info.fps, "video_num_frames": info.num_frames}
            covering = [a["gif_id"] for a in mine if a["start_frame"] < end and start < a["end_frame"]]
            labels.append({"video_sha256": sha, "segmenter": SEGMENTER, "video_id": video["video_id"], **bounds,
                           "label": int(bool(covering)), "gif_ids": covering, "context": [0.0, 1.0],
                           "split": "test"})
            features.append({"video_sha256": sha, "segmenter": SEGMENTER, "feature_extractor": EXTRACTOR, **bounds,
                             "snippets": 1, "features": rng.uniform(0, 2, tables.C3D_FEATURES).astype(np.float32)})
    for spec, rows in ((tables.GIFS, gifs), (tables.ALIGNMENTS, alignments), (tables.LABELS, labels),
                       (tables.FEATURES, features)):
        write_table(root, spec, rows)
