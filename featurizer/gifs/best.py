"""A video's best segments, by their scores, written as looping GIFs: what `gifrank predict`
makes of a video once its segments are scored (from a file, or a dataset's blob)."""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from featurizer.gifs.loops import seamless_loop
from featurizer.gifs.writer import frame_step, write_gif
from featurizer.media.errors import NO_FRAMES, MediaError


def segment_frames(path: str, segments: Sequence, step: int) -> dict[int, np.ndarray]:
    """Segment index -> its frames (every `step`-th, RGB uint8), from one decode of the video up to
    the last frame wanted; segments have .index, .start_frame and .end_frame (exclusive)."""
    from featurizer.media.video import iter_video_frames

    wanted: dict[int, list[int]] = {}
    for segment in segments:
        for frame in range(segment.start_frame, segment.end_frame, step):
            wanted.setdefault(frame, []).append(segment.index)
    collected: dict[int, list[np.ndarray]] = {s.index: [] for s in segments}
    if not wanted:
        return {}
    last = max(wanted)
    for batch in iter_video_frames(path, gray=False, batch_size=64):
        for picture, index in zip(batch.frames, batch.indices.tolist()):
            for owner in wanted.get(index, ()):
                collected[owner].append(picture)
        if batch.indices[-1] >= last:
            break
    return {index: np.stack(pictures) for index, pictures in collected.items() if pictures}


def write_best_gifs(path: str, fps: float, segments: Sequence, seconds: Sequence[tuple[float, float]],
                    scores: Sequence[float] | np.ndarray, top: int, folder: str) -> list[dict]:
    """The `top` best-scoring segments as folder/gif-<rank>.gif; what each one is (predictions.json's)."""
    score_array = np.asarray(scores, np.float64)
    chosen = np.argsort(-score_array, kind="stable")[:top].tolist()
    step = frame_step(fps)
    frames = segment_frames(path, [segments[i] for i in chosen], step)
    os.makedirs(folder, exist_ok=True)
    gifs = []
    for rank, position in enumerate(chosen, 1):
        segment = segments[position]
        pictures = frames.get(segment.index)
        if pictures is None:
            # The decode ended early (a truncated file): the video's fault, not the run's.
            raise MediaError(NO_FRAMES, path, f"no frame of segment {segment.index} decoded")
        loop = seamless_loop(pictures)
        name = f"gif-{rank}.gif"
        write_gif(pictures[loop.start:loop.stop], fps / step, os.path.join(folder, name))
        start_frame = segment.start_frame + loop.start * step
        end_frame = min(segment.end_frame, segment.start_frame + loop.stop * step)
        gifs.append({"rank": rank, "gif": name, "score": float(score_array[position]), "segment_index": segment.index,
                     "start_sec": start_frame / fps, "end_sec": end_frame / fps,
                     "segment_start_sec": seconds[position][0], "segment_end_sec": seconds[position][1],
                     "loop_jump": loop.jump, "naive_loop_jump": loop.naive_jump})
    return gifs
