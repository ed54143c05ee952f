"""Robust fit of one constant-speed line through GIF-frame to video-frame hash matches.

A GIF shows the video from some offset at some speed, so GIF frame k, on screen from
GIF time t_k, shows the video frame on screen at video time offset + speed * t_k.
Given the Hamming distances from every GIF frame to every video frame, the fit:

1. keeps, per GIF frame, its best matches in a few distinct stretches of the video;
2. forms a hypothesis (speed, offset) from every pair of such matches of two GIF frames
   far apart in the GIF (exhaustive minimal samples: RANSAC without the randomness);
3. scores each hypothesis by how well *all* GIF frames match where it puts them;
4. refines the best few by least squares on their inliers, re-matching frames along the
   line, and polishes the winner on a fine (speed, offset) grid against the score.

Ambiguity is measured afterwards on the whole video: the cost of the fitted line at
every other offset (and at other speeds), so repetitive or near-static material
shows up as a near-tie instead of a confident answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HASH_BITS = 64
# A GIF frame within this many bits of the frame the line puts it on fits the line.
INLIER_BITS = 12
# Hypotheses are scored by sum(max(0, SCORE_BITS - distance)): near matches count most,
# anything past chance-like distances counts nothing.
SCORE_BITS = 20
# Distances are capped in mean costs, so a few hopeless frames (a flash, a caption
# change) cannot outweigh the rest.
COST_CAP_BITS = 24
# Best matches kept per GIF frame, each from a different stretch of the video.
CANDIDATES_PER_FRAME = 6
CANDIDATE_STRETCH_SEC = 0.4
# GIF frames used to form hypotheses, and how far apart (share of the GIF's span) a pair must be.
ANCHOR_FRAMES = 8
MIN_ANCHOR_GAP_SHARE = 0.3
REFINE_ROUNDS = 4
# Hypotheses refined after scoring; several, since a near-tie may refine differently.
REFINED_HYPOTHESES = 3
# The polish searches +-POLISH_STEPS quarter-frame steps in speed (at the GIF's ends) and offset.
POLISH_STEPS = 8
DEFAULT_SPEED_RANGE = (0.25, 4.0)
SPEED_FACTORS = np.exp(np.linspace(-np.log(2.0), np.log(2.0), 41))


@dataclass(frozen=True)
class Timeline:
    """When each video frame comes on screen, and which frame is on screen at a given time."""

    times: np.ndarray  # float64 (n,) seconds, increasing
    frame_interval: float  # typical step (median)
    uniform: bool  # times[i] == times[0] + i * frame_interval: frames found by arithmetic

    @classmethod
    def of(cls, times: np.ndarray, single_frame_interval: float = 1.0) -> Timeline:
        """single_frame_interval: the frame step to assume when there is only one frame."""
        times = np.asarray(times, dtype=np.float64)
        interval = float(np.median(np.diff(times))) if len(times) > 1 else single_frame_interval
        regular = times[0] + interval * np.arange(len(times))
        return cls(times, interval, bool(np.all(np.abs(times - regular) < 1e-6)))

    def __len__(self) -> int:
        return len(self.times)

    def part(self, first: int, stop: int) -> Timeline:
        return Timeline(self.times[first:stop], self.frame_interval, self.uniform)

    def frames_at(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame on screen at each time (clipped to the video), and whether the time lies inside it."""
        first = self.times[0]
        if self.uniform:
            frames = np.floor((positions - first) / self.frame_interval + 1e-9).astype(np.int64)
        else:
            frames = np.searchsorted(self.times, positions + 1e-9, side="right") - 1
        inside = (positions >= first - 0.5 * self.frame_interval) & (positions < self.times[-1] + self.frame_interval)
        return np.minimum(np.maximum(frames, 0), len(self.times) - 1), inside  # np.clip's overhead shows here


@dataclass
class LineFit:
    speed: float  # video seconds per GIF second
    offset: float  # video time shown at GIF time 0 (frame-start convention)
    matched: np.ndarray  # int64 (k,) video frame each GIF frame is matched to, along the line
    distances: np.ndarray  # int (k,) Hamming distance of each GIF frame to its matched frame
    inliers: np.ndarray  # bool (k,)
    score: float

    @property
    def inlier_share(self) -> float:
        return float(self.inliers.mean())

    @property
    def cost(self) -> float:
        """Mean capped distance of all GIF frames to the line: the ambiguity profiles' unit."""
        return float(np.minimum(self.distances, COST_CAP_BITS).mean())


def _neighbour_min(distances: np.ndarray) -> np.ndarray:
    """Each video frame's distance (last axis) replaced by the least of it and its two
    neighbours: tolerates the line landing one frame off (rounding, GIF tools sampling to nearest)."""
    out = distances.copy()
    np.minimum(out[..., 1:], distances[..., :-1], out=out[..., 1:])
    np.minimum(out[..., :-1], distances[..., 1:], out=out[..., :-1])
    return out


def _candidates(distances: np.ndarray, stretch: int, count: int) -> np.ndarray:
    """(k, c) video frames: each GIF frame's best match in each of its `count` best stretches."""
    k, n = distances.shape
    padded_n = -(-n // stretch) * stretch
    padded = np.full((k, padded_n), HASH_BITS + 1, dtype=distances.dtype)
    padded[:, :n] = distances
    blocks = padded.reshape(k, -1, stretch)
    block_min = blocks[:, :, 0].copy()
    for offset in range(1, stretch):  # a loop of whole-array minima beats min(axis=2) over a short axis
        np.minimum(block_min, blocks[:, :, offset], out=block_min)
    count = min(count, blocks.shape[1])
    best_blocks = np.argpartition(block_min, count - 1, axis=1)[:, :count]
    chosen = blocks[np.arange(k)[:, None], best_blocks]  # (k, count, stretch)
    return np.minimum(best_blocks * stretch + chosen.argmin(axis=2), n - 1)


def _anchor_pairs(gif_times: np.ndarray) -> list[tuple[int, int]]:
    k = len(gif_times)
    anchors = np.unique(np.linspace(0, k - 1, min(k, ANCHOR_FRAMES)).round().astype(int))
    span = gif_times[-1] - gif_times[0]
    return [(a, b) for i, a in enumerate(anchors) for b in anchors[i + 1:]
            if gif_times[b] - gif_times[a] >= MIN_ANCHOR_GAP_SHARE * span]


def _hypotheses(candidates: np.ndarray, gif_times: np.ndarray, video_times: np.ndarray,
                speed_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    speed_parts: list[np.ndarray] = []
    offset_parts: list[np.ndarray] = []
    for a, b in _anchor_pairs(gif_times):
        ta, tb = video_times[candidates[a]], video_times[candidates[b]]
        speed = (tb[None, :] - ta[:, None]) / (gif_times[b] - gif_times[a])
        speed_parts.append(speed.ravel())
        offset_parts.append((ta[:, None] - speed * gif_times[a]).ravel())
    if not speed_parts:
        return np.empty(0), np.empty(0)
    speeds, offsets = np.concatenate(speed_parts), np.concatenate(offset_parts)
    keep = (speeds >= speed_range[0]) & (speeds <= speed_range[1])
    return speeds[keep], offsets[keep]


def line_distances(near: np.ndarray, gif_times, timeline: Timeline, speeds, offsets) -> np.ndarray:
    """(h, k) distance of each GIF frame at the place each line puts it (64 outside the video)."""
    positions = offsets[:, None] + speeds[:, None] * gif_times[None, :]
    frames, inside = timeline.frames_at(positions)
    return np.where(inside, near[np.arange(len(gif_times)), frames], HASH_BITS)


def _score(line_distances_: np.ndarray) -> np.ndarray:
    return np.maximum(0, SCORE_BITS - line_distances_.astype(np.int32)).sum(axis=-1)


def _match_along(distances, gif_times, timeline: Timeline, speed, offset, reach: int):
    """Per GIF frame, the best video frame within `reach` frames of where the line puts it;
    ties go to the frame nearest the line."""
    k, n = distances.shape
    centre, inside = timeline.frames_at(offset + speed * gif_times)
    steps = np.arange(-reach, reach + 1)
    window = np.minimum(np.maximum(centre[:, None] + steps[None, :], 0), n - 1)
    window_distances = distances[np.arange(k)[:, None], window].astype(np.int32)
    pick = np.argmin(window_distances * (2 * reach + 1) + np.abs(steps)[None, :], axis=1)
    matched = window[np.arange(k), pick]
    return matched, np.where(inside, window_distances[np.arange(k), pick], HASH_BITS)


def polish_grid(gif_times, frame_interval, speed, offset, speed_range, steps: int):
    """Lines around (speed, offset) on a grid of quarter-frame moves of the GIF's ends and
    middle: (speeds, offsets, closeness to the given line)."""
    middle = 0.5 * (gif_times[0] + gif_times[-1])
    half_span = max(0.5 * (gif_times[-1] - gif_times[0]), 1e-6)
    quarter = 0.25 * frame_interval
    moves = np.arange(-steps, steps + 1)
    speeds = speed + quarter / half_span * moves
    speeds = speeds[(speeds >= speed_range[0]) & (speeds <= speed_range[1])]
    grid_speeds, grid_shifts = (a.ravel() for a in np.meshgrid(speeds, quarter * moves))
    offsets = offset + speed * middle + grid_shifts - grid_speeds * middle
    closeness = np.abs(grid_speeds - speed) * half_span / quarter + np.abs(grid_shifts) / quarter
    return grid_speeds, offsets, closeness


def _polish(near, gif_times, timeline: Timeline, speed, offset, speed_range) -> tuple[float, float]:
    """The best-scoring line on a fine grid around (speed, offset).

    Least squares on the inliers alone can settle a little off when a stretch of the GIF
    only matches at the right speed (fast pans): the score sees every frame.
    """
    speeds, offsets, closeness = polish_grid(gif_times, timeline.frame_interval, speed, offset, speed_range,
                                             POLISH_STEPS)
    if len(speeds) == 0:
        return speed, offset
    scores = _score(line_distances(near, gif_times, timeline, speeds, offsets))
    best = np.lexsort((closeness, -scores))[0]  # among equal scores, the nearest line
    return float(speeds[best]), float(offsets[best])


def _weighted_line(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Slope and intercept minimising sum(weights * (y - slope * x - intercept) ** 2), in
    closed form (np.polyfit's general solver costs more than the fit itself here)."""
    total = weights.sum()
    x_mean, y_mean = (weights @ x) / total, (weights @ y) / total
    dx = x - x_mean
    slope = (weights * dx) @ (y - y_mean) / ((weights * dx) @ dx)
    return float(slope), float(y_mean - slope * x_mean)


def _least_squares(distances, gif_times, timeline: Timeline, speed, offset, speed_range) -> tuple[float, float]:
    """Iterated weighted least squares of matched frame times on GIF times, over inliers."""
    reach = 2
    for _ in range(REFINE_ROUNDS):
        matched, matched_distances = _match_along(distances, gif_times, timeline, speed, offset, reach)
        inliers = matched_distances <= INLIER_BITS
        if inliers.sum() < 2 or np.ptp(gif_times[inliers]) <= 0:
            break
        new_speed, new_offset = _weighted_line(gif_times[inliers], timeline.times[matched[inliers]],
                                               (INLIER_BITS + 1 - matched_distances[inliers]).astype(float))
        if not speed_range[0] <= new_speed <= speed_range[1]:
            break
        converged = abs(new_speed - speed) < 1e-12 and abs(new_offset - offset) < 1e-12
        speed, offset = new_speed, new_offset
        if converged and reach == 1:  # the same line re-matches the same frames
            break
        reach = 1
    return speed, offset


def _line_fit(distances, gif_times, timeline: Timeline, speed: float, offset: float) -> LineFit:
    matched, matched_distances = _match_along(distances, gif_times, timeline, speed, offset, 1)
    return LineFit(speed=speed, offset=offset, matched=matched, distances=matched_distances,
                   inliers=matched_distances <= INLIER_BITS, score=float(_score(matched_distances)))


def fit_line(distances: np.ndarray, gif_times: np.ndarray, timeline: Timeline,
             speed_range: tuple[float, float] = DEFAULT_SPEED_RANGE) -> LineFit | None:
    """The best constant-speed line, or None when no pair of matches gives a plausible speed.

    distances: (k, n) uint8 Hamming distances, GIF frames by the timeline's video frames;
    gif_times (k,): seconds each GIF frame comes on screen. Needs k >= 2.
    """
    near = _neighbour_min(distances)
    stretch = max(1, round(CANDIDATE_STRETCH_SEC / timeline.frame_interval))
    candidates = _candidates(distances, stretch, CANDIDATES_PER_FRAME)
    speeds, offsets = _hypotheses(candidates, gif_times, timeline.times, speed_range)
    if len(speeds) == 0:
        return None
    scores = _score(line_distances(near, gif_times, timeline, speeds, offsets))
    refined, seen = [], set()
    for h in np.argsort(-scores, kind="stable"):
        key = (round(float(offsets[h]) / timeline.frame_interval), round(float(np.log(speeds[h])) * 100))
        if key not in seen:
            seen.add(key)
            speed, offset = _least_squares(distances, gif_times, timeline, float(speeds[h]), float(offsets[h]),
                                           speed_range)
            refined.append(_line_fit(distances, gif_times, timeline, speed, offset))
        if len(refined) == REFINED_HYPOTHESES:
            break
    best = max(refined, key=lambda fit: fit.score)
    speed, offset = _polish(near, gif_times, timeline, best.speed, best.offset, speed_range)
    return _line_fit(distances, gif_times, timeline, speed, offset)


@dataclass
class Ambiguity:
    best_cost: float  # mean capped distance along the fitted line
    other_offset_cost: float  # the best cost at any start more than `separation` away, same speed
    other_speed_cost: float  # the best cost at speeds differing by more than a factor `speed_factor`


def offset_profile(distances: np.ndarray, gif_times: np.ndarray, speed: float, frame_interval: float) -> np.ndarray:
    """Mean capped distance of the GIF laid on the video at `speed` from every start frame
    (frame steps taken as regular: this profile only measures ambiguity). distances: (..., k, n)
    -> (..., starts)."""
    near = np.minimum(_neighbour_min(distances), COST_CAP_BITS)
    k, n = near.shape[-2:]
    shifts = np.round((gif_times - gif_times[0]) * speed / frame_interval).astype(int)
    starts = n - shifts.max()
    if starts <= 0:
        return np.empty((*near.shape[:-2], 0))
    total = np.zeros((*near.shape[:-2], starts), dtype=np.float32)
    for row, shift in enumerate(shifts):
        total += near[..., row, shift:shift + starts]
    return total / k


def speed_profile(distances: np.ndarray, gif_times: np.ndarray, timeline: Timeline, fit: LineFit,
                  factors: np.ndarray) -> np.ndarray:
    """Mean capped distance of lines through the fitted line's middle at speed * factor."""
    near = np.minimum(_neighbour_min(distances), COST_CAP_BITS)
    middle = 0.5 * (gif_times[0] + gif_times[-1])
    centre = fit.offset + fit.speed * middle
    speeds = fit.speed * factors
    line = line_distances(near, gif_times, timeline, speeds, centre - speeds * middle)
    return np.minimum(line, COST_CAP_BITS).mean(axis=1)


def measure_ambiguity(distances, gif_times, timeline: Timeline, fit: LineFit,
                      separation_sec: float, speed_factor: float) -> Ambiguity:
    profile = offset_profile(distances, gif_times, fit.speed, timeline.frame_interval)
    best_start = int(timeline.frames_at(np.array([fit.offset]))[0][0])
    separation = max(1, round(separation_sec / timeline.frame_interval))
    far = np.ones(len(profile), dtype=bool)
    far[max(0, best_start - separation):best_start + separation + 1] = False
    other_offset = float(profile[far].min()) if far.any() else float(COST_CAP_BITS)
    speeds = speed_profile(distances, gif_times, timeline, fit, SPEED_FACTORS)
    distinct = np.abs(np.log(SPEED_FACTORS)) > np.log(speed_factor)
    return Ambiguity(best_cost=fit.cost, other_offset_cost=other_offset,
                     other_speed_cost=float(speeds[distinct].min()))


def segment_start(speed: float, matched: np.ndarray, inliers: np.ndarray, gif_times: np.ndarray,
                  timeline: Timeline) -> int:
    """The video frame on screen when the GIF starts.

    Each inlier says: the segment started in [t(j) - speed * t_k, t(j + 1) - speed * t_k),
    since its frame j was the one on screen at offset + speed * t_k. The start is where
    most of these intervals agree: the frame starting in that stretch, or else the frame on
    screen during it.
    """
    times = timeline.times
    keep = inliers if inliers.any() else np.ones(len(gif_times), dtype=bool)
    shift = speed * gif_times[keep]
    following = np.append(times, times[-1] + timeline.frame_interval)
    slack = 0.05 * timeline.frame_interval
    low, high = _most_agreed(times[matched[keep]] - shift - slack, following[matched[keep] + 1] - shift + slack)
    first = int(np.searchsorted(times, low))
    if first < len(times) and times[first] < high:
        return first
    return int(timeline.frames_at(np.array([0.5 * (low + high)]))[0][0])  # the frame on screen then


def _most_agreed(lower: np.ndarray, upper: np.ndarray) -> tuple[float, float]:
    """The stretch covered by the most intervals [lower, upper) (the earliest on ties)."""
    points = np.concatenate([lower, upper])
    steps = np.concatenate([np.ones(len(lower)), -np.ones(len(upper))])
    order = np.lexsort((steps, points))  # at equal points, closings (-1) before openings
    coverage = np.cumsum(steps[order])
    best = int(np.argmax(coverage))
    return float(points[order][best]), float(points[order][best + 1])
