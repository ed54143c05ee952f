"""Pixel-level refinement and verification of a hash alignment on the video's thumbnails.

A 64-bit DCT hash is unstable on pictures whose low-frequency coefficients are all near
the median (1-D patterns such as test bars, fine noise textures): the bits flip with
palette noise, so a few GIF frames of the true segment can sit at chance distance. The
hash line is therefore polished against normalised cross-correlation (NCC) of the GIF
frames with the video thumbnails near the line, which also tells a GIF that only partly
matches the video (shared footage) from one cut whole from it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from featurizer.align.temporal_fit import Timeline, polish_grid
from featurizer.media.area_resize import resize_frames

# NCC at which a GIF frame counts as showing the video frame it is matched to: true
# matches of even noisy, dithered material stay above it, unrelated pictures near 0.
MATCH_NCC = 0.5
# Pixel standard deviation below which a picture counts as flat (black frames, plain
# fades): NCC is undefined there, and two flat pictures count as a match. Fine noise
# textures average out to low but real contrast in thumbnails, so this stays small.
FLAT_STD = 0.5
# The polish searches +-POLISH_STEPS quarter-frame steps in speed (at the GIF's ends) and offset.
POLISH_STEPS = 8
POLISH_ROUNDS = 2
# Video frames kept on either side of the stretch the line covers.
WINDOW_MARGIN_FRAMES = 8


@dataclass
class PixelFit:
    speed: float
    offset: float
    matched: np.ndarray  # int64 (k,) video frame matched to each GIF frame
    similarity: np.ndarray  # float (k,) NCC of each GIF frame with its matched frame



def _pooled(pictures: np.ndarray) -> np.ndarray:
    """(m, h, w) -> (m, h//2, w//2) float32 means of 2x2 blocks (a picture under 2 px on a side
    is kept as is)."""
    m, h, w = pictures.shape
    if h < 2 or w < 2:
        return np.asarray(pictures, dtype=np.float32)
    even = np.asarray(pictures[:, :h - h % 2, :w - w % 2], dtype=np.float32)
    return 0.25 * (even[:, 0::2, 0::2] + even[:, 1::2, 0::2] + even[:, 0::2, 1::2] + even[:, 1::2, 1::2])


def _normalised(pictures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, h, w) -> (m, h*w/4) zero-mean unit-norm rows of the 2x2-pooled pictures, and which are flat.

    Pooling keeps NCC to structure both sides share: at thumbnail scale, fine textures
    (noise, cellular patterns) alias differently in the GIF and in the video, so their
    finest detail is noise to the comparison.
    """
    vectors = _pooled(pictures).reshape(len(pictures), -1)
    vectors -= vectors.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    flat = (norms[:, 0] / np.sqrt(vectors.shape[1])) < FLAT_STD
    vectors /= np.maximum(norms, 1e-6)
    vectors[flat] = 0.0
    return vectors, flat


def gif_vectors(pictures: np.ndarray, size: tuple[int, int], mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """GIF pictures (k, H, W) uint8 area-scaled to size (w, h), flipped if mirrored, normalised."""
    if pictures.shape[1:] != (size[1], size[0]):
        pictures = resize_frames(pictures, size)
    return _normalised(pictures[:, :, ::-1] if mirrored else pictures)


def _similarity(gif: tuple[np.ndarray, np.ndarray], video: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    (g, g_flat), (v, v_flat) = gif, video
    similarity = g @ v.T
    similarity[np.ix_(g_flat, v_flat)] = 1.0
    return similarity


def refine(gif: tuple[np.ndarray, np.ndarray], video_pictures: Callable[[np.ndarray], np.ndarray],
           gif_times: np.ndarray, timeline: Timeline, speed: float, offset: float,
           speed_range: tuple[float, float]) -> PixelFit:
    """The line near (speed, offset) whose frames best match the GIF's pixels.

    gif: gif_vectors(...) of the GIF pictures; video_pictures(frames) gives the video's
    pictures of those frames at the same size (thumbnails, or a crop region of them).
    """
    ends, _ = timeline.frames_at(np.array([offset + speed * gif_times[0], offset + speed * gif_times[-1]]))
    reach = WINDOW_MARGIN_FRAMES + POLISH_ROUNDS * POLISH_STEPS
    first, last = max(0, int(ends[0]) - reach), min(len(timeline), int(ends[1]) + reach + 1)
    similarity = _similarity(gif, _normalised(video_pictures(np.arange(first, last))))
    rows = np.arange(len(gif_times))
    for _ in range(POLISH_ROUNDS):
        speed, offset = _polish(similarity, rows, first, last, gif_times, timeline, speed, offset, speed_range)
    centre, inside = timeline.frames_at(offset + speed * gif_times)
    matched, matched_similarity = _best_nearby(similarity, rows, first, last, centre, inside)
    return PixelFit(speed=speed, offset=offset, matched=matched, similarity=matched_similarity)


def _polish(similarity, rows, first, last, gif_times, timeline: Timeline, speed, offset, speed_range):
    """The line of the quarter-frame grid around (speed, offset) with the most summed NCC."""
    speeds, offsets, closeness = polish_grid(gif_times, timeline.frame_interval, speed, offset, speed_range,
                                             POLISH_STEPS)
    if len(speeds) == 0:
        return speed, offset
    frames, inside = timeline.frames_at(offsets[:, None] + speeds[:, None] * gif_times[None, :])
    usable = inside & (frames >= first) & (frames < last)
    values = np.where(usable, similarity[rows[None, :], np.clip(frames - first, 0, last - first - 1)], -1.0)
    scores = np.round(values.sum(axis=1), 4)
    best = np.lexsort((closeness, -scores))[0]  # among equal scores, the nearest line
    return float(speeds[best]), float(offsets[best])


def _best_nearby(similarity, rows, first, last, centre, inside):
    """Per GIF frame, the most similar of the frames one either side of the line's (ties: the line's)."""
    steps = np.array([0, -1, 1])
    candidates = np.clip(centre[:, None] + steps[None, :], first, last - 1)
    values = similarity[rows[:, None], candidates - first]
    pick = np.argmax(values, axis=1)  # argmax keeps the first of equals: the line's own frame
    matched = candidates[rows, pick]
    return matched, np.where(inside, values[rows, pick], -1.0)
