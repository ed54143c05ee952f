"""Cropped GIFs: find the box of the video frame the GIF shows, then re-hash the video there.

A crop changes the full-frame hash completely, so for a GIF that matches no full frame:

1. coarse: the GIF's picture, at three moments and a ladder of sizes (its aspect ratio is
   the crop's), is correlated (NCC) with tiles: the video's thumbnails averaged over every
   TILE_STRIDE_SEC and halved in size, so a whole video is searched at once.
   A box scores where the later moments also match it at plausible times later;
2. fine: the best boxes are re-searched at thumbnail resolution on their tiles;
3. each box's DCT hashes (featurizer.align.regions) of the frames near its tile are fitted with a
   temporal line; the best line's matched frames then pull the box to a quarter pixel
   (mean NCC, coordinate descent), and the whole video is re-hashed inside it.

All of it runs on the thumbnails of the one decode pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from featurizer.align.phash import hamming_matrix
from featurizer.align.regions import Region, sample_regions
from featurizer.align.temporal_fit import COST_CAP_BITS, LineFit, fit_line, offset_profile
from featurizer.media.area_resize import resize_frames

TILE_STRIDE_SEC = 0.5
TILE_DOWNSCALE = 2
# Tiles correlated per step: temporaries of at most about 1 MB.
NCC_CHUNK_TILES = 256
# Crop sizes tried: the largest box of the GIF's aspect ratio inside the frame, times
# CROP_SCALE_STEP ** i down to MIN_CROP_SHARE.
CROP_SCALE_STEP = 0.7
MIN_CROP_SHARE = 0.33
MIN_TEMPLATE_PIXELS = 5
# GIF moments (shares of its duration) used as templates, each the mean of the GIF frames
# within TEMPLATE_SPAN_SEC of it: averaging in time, like the tiles, forgives timing.
# Start, middle and end, so a GIF spanning a cut is seen on both sides of it.
TEMPLATE_MOMENTS = (0.15, 0.5, 0.85)
TEMPLATE_SPAN_SEC = 0.25
# Windows (and templates) with a pixel standard deviation below this are flat: no NCC.
FLAT_STD = 1.0
# Coarse boxes re-searched at thumbnail resolution, and the scales tried around each
# (spanning the coarse ladder's step).
FINE_BOXES = 4
FINE_SCALES = (0.82, 0.87, 0.92, 0.96, 1.0, 1.04, 1.09, 1.15, 1.21)
# Fine boxes whose hashes are fitted on the frames near their tile. All of them: on scrolling
# material a wrong box can fit half the GIF while a later one fits all of it.
VERIFIED_BOXES = 3
# Frame pairs and step sizes (thumbnail pixels) of the final box refinement.
REFINE_PAIRS = 12
REFINE_STEPS_PX = (1.0, 0.5, 0.25)
MIN_REFINE_FRAMES = 4
# Shifts (shares of the region's size, along x and along y) and time window of the
# shifted-region ambiguity check.
SHIFT_SHARES = (-0.3, -0.15, 0.15, 0.3)
SHIFT_WINDOW_SEC = 4.0
# The search's own look along that trade-off shifts by every SHIFT_STEP_PX (thumbnail pixels)
# up to the largest share: a scrolled or panned match is a basin about a pixel wide (a
# textured crop's hash changes within a pixel), which the shares above step over.
SHIFT_STEP_PX = 1.0


@dataclass(frozen=True)
class CropTiles:
    """The crop search's view of a whole video, built once per video by the index (about
    2.3 KB per TILE_STRIDE_SEC of video: 33 MB for two hours)."""

    stride: int  # frames per tile
    tiles: np.ndarray  # float32 (m, th, tw)

    @property
    def shape(self) -> tuple[int, int]:
        return self.tiles.shape[1], self.tiles.shape[2]

    def integrals(self) -> tuple[np.ndarray, np.ndarray]:
        """(m, H+1, W+1) float64 integral images of the tiles and of their squares, a zero row
        and column first (made per search, not kept: they are four times the tiles' size)."""
        m, height, width = self.tiles.shape
        sums = np.empty((m, height + 1, width + 1), dtype=np.float64)
        squares = np.empty_like(sums)
        for tile, tile_sums, tile_squares in zip(self.tiles, sums, squares):
            cv2.integral2(tile, tile_sums, tile_squares, cv2.CV_64F, cv2.CV_64F)
        return sums, squares


@dataclass(frozen=True)
class _Box:
    mirrored: bool
    tile: int  # where the first template moment matches
    lags: tuple[int, ...]  # tiles from there to where each later moment matches
    x: int
    y: int
    w: int
    h: int
    ncc: float


def build_tiles(thumbs: np.ndarray, frame_interval: float) -> CropTiles:
    """The video's thumbnails averaged per TILE_STRIDE_SEC and downscaled by TILE_DOWNSCALE."""
    stride = max(1, round(TILE_STRIDE_SEC / frame_interval))
    n, th, tw = thumbs.shape
    shape = (max(1, th // TILE_DOWNSCALE), max(1, tw // TILE_DOWNSCALE))
    tiles = np.empty((-(-n // stride), *shape), dtype=np.float32)
    for i, first in enumerate(range(0, n, stride)):
        mean = thumbs[first:first + stride].mean(axis=0, dtype=np.float32)
        tiles[i] = cv2.resize(mean, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return CropTiles(stride=stride, tiles=tiles)


def _box_sums(integral: np.ndarray, h: int, w: int) -> np.ndarray:
    """(m, H-h+1, W-w+1) sums over every h x w window, from integral images."""
    sums = integral[:, h:, w:] - integral[:, :-h, w:]
    sums -= integral[:, h:, :-w]
    sums += integral[:, :-h, :-w]
    return sums


def _template_images(pictures: np.ndarray, gif_times: np.ndarray, duration: float) -> list[np.ndarray]:
    images = []
    for moment in TEMPLATE_MOMENTS:
        near = np.abs(gif_times - moment * duration) <= TEMPLATE_SPAN_SEC
        if not near.any():
            near = np.arange(len(gif_times)) == np.argmin(np.abs(gif_times - moment * duration))
        images.append(pictures[near].mean(axis=0, dtype=np.float32))
    return images


def _box_sizes(frame_w: int, frame_h: int, aspect: float) -> list[tuple[int, int]]:
    """(w, h) of boxes with the GIF's aspect ratio inside a frame_w x frame_h frame, largest first."""
    full_w, full_h = (frame_w, frame_w / aspect) if aspect >= frame_w / frame_h else (frame_h * aspect, frame_h)
    sizes = []
    scale = 1.0
    while scale >= MIN_CROP_SHARE:
        size = (min(frame_w, round(full_w * scale)), min(frame_h, round(full_h * scale)))
        if min(size) >= MIN_TEMPLATE_PIXELS and size not in sizes:
            sizes.append(size)
        scale *= CROP_SCALE_STEP
    return sizes


def _ncc_maps(tiles: CropTiles, integrals: tuple[np.ndarray, np.ndarray], templates: np.ndarray) -> np.ndarray:
    """(t, m, th-h+1, tw-w+1) NCC of t same-size templates with every tile at every position
    (0 where the tile window or the template is flat); integrals: of the tiles and of their squares."""
    count, h, w = templates.shape
    m, (th, tw) = len(tiles.tiles), tiles.shape
    rows, cols = th - h + 1, tw - w + 1
    centred = templates - templates.mean(axis=(1, 2), keepdims=True)
    norms = np.linalg.norm(centred.reshape(count, -1), axis=1)
    template_scale = np.where(norms < FLAT_STD * np.sqrt(h * w), 0.0, 1.0 / np.maximum(norms, 1e-6))
    # Tiles are small (th x tw), so correlation is one matrix product with every placement of
    # every centred template on a tile-sized canvas: at these sizes that beats FFTs several times.
    placements = np.zeros((count, rows, cols, th, tw), dtype=np.float32)
    for y in range(rows):
        for x in range(cols):
            placements[:, y, x, y:y + h, x:x + w] = centred
    placements = placements.reshape(count * rows * cols, th * tw).T
    pixels = tiles.tiles.reshape(m, th * tw)
    ncc = np.empty((count, m, rows, cols), dtype=np.float32)
    # In chunks of tiles: temporaries stay small and are reused instead of freshly mapped.
    for first in range(0, m, NCC_CHUNK_TILES):
        stop = min(m, first + NCC_CHUNK_TILES)
        correlation = (pixels[first:stop] @ placements).reshape(stop - first, count, rows, cols)
        np.multiply(correlation.transpose(1, 0, 2, 3), _window_scale(integrals, h, w, first, stop)[None],
                    out=ncc[:, first:stop])
    ncc *= template_scale.astype(np.float32)[:, None, None, None]
    return ncc


def _window_scale(integrals: tuple[np.ndarray, np.ndarray], h: int, w: int, first: int, stop: int) -> np.ndarray:
    """(stop-first, rows, cols) float32 1 / (std * sqrt(h * w)) of every h x w window of tiles
    first..stop-1, 0 where the window is flat."""
    sums = _box_sums(integrals[0][first:stop], h, w)
    sums *= sums
    sums /= h * w
    variance = _box_sums(integrals[1][first:stop], h, w)
    variance -= sums
    flat = variance < FLAT_STD ** 2 * h * w
    np.maximum(variance, 1e-6, out=variance)
    np.sqrt(variance, out=variance)
    scale = np.divide(1.0, variance, out=variance).astype(np.float32)
    scale[flat] = 0.0
    return scale


def _lag_ranges(duration: float, stride_sec: float, speed_range) -> list[tuple[int, int]]:
    """Per later template moment, the tiles it can lie after the first one, over the plausible speeds."""
    ranges = []
    for moment in TEMPLATE_MOMENTS[1:]:
        gap = (moment - TEMPLATE_MOMENTS[0]) * duration / stride_sec
        ranges.append((int(np.floor(gap * speed_range[0])), int(np.ceil(gap * speed_range[1])) + 1))
    return ranges


def _later_max(maps: np.ndarray, lags: tuple[int, int]) -> np.ndarray:
    """best[i] = max(maps[i + lag] for lag in lags) (-1 past the end): a later moment's best
    NCC at a plausible time after the first's tile, per box position. A sparse-table window
    maximum: O(log(lags)) passes over the maps instead of one per lag."""
    m = len(maps)
    best = np.full(maps.shape, -1.0, dtype=maps.dtype)
    first, last = lags[0], min(lags[1], m - 1)
    if first > last:
        return best
    length = last - first + 1
    level, span = maps[first:], 1  # level[i] = max(maps[first + i : first + i + span]), clipped at the end
    while span * 2 <= length:
        doubled = level.copy()
        np.maximum(doubled[:-span], level[span:], out=doubled[:-span])
        level, span = doubled, span * 2
    window = best[:m - first]
    window[:] = level
    rest = length - span
    if rest:
        np.maximum(window[:-rest], level[rest:], out=window[:-rest])
    return best


def _best_lag(maps: np.ndarray, lags: tuple[int, int], tile: int, y: int, x: int) -> int:
    """The first lag in lags (as in _later_max) where maps[tile + lag] is highest at (y, x)."""
    first, last = lags[0], min(lags[1], len(maps) - 1 - tile)
    if first > last:
        return 0
    return first + int(np.argmax(maps[tile + first:tile + last + 1, y, x]))


def _coarse_boxes(tiles: CropTiles, templates: list[np.ndarray], aspect: float, lag_ranges,
                  mirrored: bool) -> list[_Box]:
    """Per box size, the tile and place where all template moments match best (each later one
    at a plausible time after the first), best first."""
    boxes = []
    integrals = tiles.integrals()
    for w, h in _box_sizes(tiles.shape[1], tiles.shape[0], aspect):
        scaled = [cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) for image in templates]
        first, *later_maps = _ncc_maps(tiles, integrals, np.stack([t[:, ::-1] if mirrored else t for t in scaled]))
        combined = first
        for maps, lags in zip(later_maps, lag_ranges):
            combined += _later_max(maps, lags)
        combined /= len(templates)
        tile, y, x = np.unravel_index(int(np.argmax(combined)), combined.shape)
        boxes.append(_Box(mirrored, int(tile), tuple(_best_lag(maps, lags, int(tile), int(y), int(x))
                                                      for maps, lags in zip(later_maps, lag_ranges)),
                          int(x), int(y), w, h, float(combined[tile, y, x])))
    return sorted(boxes, key=lambda b: -b.ncc)


def _fine_box(index, images: list[np.ndarray], coarse: _Box, stride: int) -> _Box:
    """The coarse box re-searched at thumbnail resolution, at nearby sizes, on the mean
    thumbnails of the tiles where its template moments matched."""
    n, th, tw = index.thumbs.shape
    tiles = [index.thumbs[t * stride:(t + 1) * stride].mean(axis=0, dtype=np.float32)
             for t in (coarse.tile, *(coarse.tile + lag for lag in coarse.lags)) if t * stride < n]
    best = None
    for scale in FINE_SCALES:
        w = min(tw, round(coarse.w * TILE_DOWNSCALE * scale))
        h = min(th, round(coarse.h * TILE_DOWNSCALE * scale))
        templates = [cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) for image in images]
        if coarse.mirrored:
            templates = [t[:, ::-1].copy() for t in templates]
        scores = np.mean([cv2.matchTemplate(tile, template, cv2.TM_CCOEFF_NORMED)
                          for tile, template in zip(tiles, templates)], axis=0)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        if best is None or score > best.ncc:
            best = _Box(coarse.mirrored, coarse.tile, coarse.lags, x, y, w, h, float(score))
    if best is None:
        raise ValueError("FINE_SCALES is empty: no box size to search")
    return best


def _gif_hashes(pictures: np.ndarray, mirrored: bool) -> np.ndarray:
    """The GIF pictures hashed like a video region (mirrored back when the crop was mirrored)."""
    return Region.whole(*pictures.shape[1:]).hashes(pictures[:, :, ::-1] if mirrored else pictures)


def _near_tile(index, box: _Box, stride: int, duration: float, speed_range) -> tuple[int, int]:
    """Frames (first, stop) a GIF whose first moment lies in the box's tile can span."""
    reach = round(duration * speed_range[1] / index.frame_interval)
    return max(0, box.tile * stride - reach), min(index.num_frames, (box.tile + 1) * stride + reach)


def _local_fit(index, region: Region, gif_hashes, gif_times, around: tuple[int, int], speed_range):
    """The best line through the frames `around` hashed inside region; matched frames are video frames."""
    first, stop = around
    distances = hamming_matrix(gif_hashes, region.hashes(index.thumbs[first:stop]))
    fit = fit_line(distances, gif_times, index.timeline.part(first, stop), speed_range)
    if fit is not None:
        fit.matched = fit.matched + first
    return fit


def _unit_rows(pictures: np.ndarray) -> np.ndarray:
    vectors = pictures.reshape(len(pictures), -1).astype(np.float32)
    vectors -= vectors.mean(axis=1, keepdims=True)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)
    return vectors


def refine_region(index, pictures: np.ndarray, mirrored: bool, matched: np.ndarray, region: Region) -> Region:
    """The region near `region` whose pixels best match the GIF frames on their matched video
    frames (mean NCC), to a quarter thumbnail pixel: coordinate descent on place and size."""
    picks = np.unique(np.linspace(0, len(matched) - 1, min(len(matched), REFINE_PAIRS)).round().astype(int))
    size = (max(MIN_TEMPLATE_PIXELS, round(region.w)), max(MIN_TEMPLATE_PIXELS, round(region.h)))
    scaled = resize_frames(pictures[picks], size)
    gif = _unit_rows(scaled[:, :, ::-1] if mirrored else scaled)
    thumbs = np.asarray(index.thumbs[matched[picks]])
    height, width = thumbs.shape[1:]

    def scores(candidates: list[Region]) -> np.ndarray:
        samples = sample_regions(candidates, thumbs, size)  # (r, pairs, h, w)
        vectors = _unit_rows(samples.reshape(-1, size[0] * size[1])).reshape(len(candidates), len(picks), -1)
        return (vectors * gif[None]).sum(axis=2).mean(axis=1)

    best, best_score = region, float(scores([region])[0])
    for step in REFINE_STEPS_PX:
        while True:
            moves = _moves(best, step, height, width)
            move_scores = scores(moves)
            pick = int(np.argmax(move_scores))
            if move_scores[pick] <= best_score + 1e-6:
                break
            best, best_score = moves[pick], float(move_scores[pick])
    return best


def _moves(region: Region, step: float, height: int, width: int) -> list[Region]:
    """Shifts by step along x and y, and growing or shrinking by step about the centre."""
    moves = [Region(region.x + dx, region.y + dy, region.w, region.h)
             for dx, dy in ((step, 0), (-step, 0), (0, step), (0, -step))]
    for factor in (1 + step / region.w, 1 - step / region.w):
        w, h = region.w * factor, region.h * factor
        moves.append(Region(region.x + (region.w - w) / 2, region.y + (region.h - h) / 2, w, h))
    return [move.clipped(height, width) for move in moves]


@dataclass
class CropMatch:
    pictures: np.ndarray  # (k, H, W) uint8 GIF pictures searched
    mirrored: bool
    region: Region  # in thumbnail pixels
    distances: np.ndarray  # (k, n) Hamming matrix against the video's hashes of that region
    fit: LineFit
    # Best mean capped distance of a nearby region at a clearly different time: panning or
    # scrolling material trades the crop's place against time, a near-tie the offset
    # profile of one region cannot see.
    shifted_region_cost: float


def _shifted_placements(index, hashes, gif_times, region: Region, fit: LineFit, separation_sec: float,
                        dxs, dys) -> tuple[list[tuple[float, Region]], tuple[int, int]]:
    """(cost, region) per region moved by each dx along x and each dy along y that stays inside
    the frame: its best cost over starts within SHIFT_WINDOW_SEC of the fitted start but more
    than separation_sec away from it (any start for 0); and the frames (first, stop) of that window."""
    height, width = index.thumbs.shape[1:]
    interval = index.frame_interval
    start = int(index.timeline.frames_at(np.array([fit.offset]))[0][0])
    reach = round(SHIFT_WINDOW_SEC / interval)
    span = round((gif_times[-1] - gif_times[0]) * fit.speed / interval) + 2
    first, stop = max(0, start - reach), min(index.num_frames, start + reach + span)
    separation = max(1, round(separation_sec / interval)) if separation_sec > 0 else -1

    def inside(shifted: Region) -> bool:
        return shifted.clipped(height, width) == shifted

    dxs = [dx for dx in dxs if inside(Region(region.x + dx, region.y, region.w, region.h))]
    dys = [dy for dy in dys if inside(Region(region.x, region.y + dy, region.w, region.h))]
    shifted = ([Region(region.x + dx, region.y, region.w, region.h) for dx in dxs]
               + [Region(region.x, region.y + dy, region.w, region.h) for dy in dys])
    if not shifted:
        return [], (first, stop)
    by_x, by_y = region.shifted_hashes(np.asarray(index.thumbs[first:stop]), dxs, dys)
    video_hashes = np.concatenate([by_x, by_y])  # (shifts, frames)
    distances = hamming_matrix(hashes, video_hashes.ravel()).reshape(len(hashes), *video_hashes.shape)
    profiles = offset_profile(distances.transpose(1, 0, 2), gif_times, fit.speed, interval)  # (shifts, starts)
    far = np.abs(first + np.arange(profiles.shape[1]) - start) > separation
    if not far.any():
        return [], (first, stop)
    costs = profiles[:, far].min(axis=1)
    return [(float(cost), place) for cost, place in zip(costs, shifted)], (first, stop)


def _shifted_region_cost(index, hashes, gif_times, region: Region, fit: LineFit, separation_sec: float) -> float:
    """The best cost of regions shifted along x or y by SHIFT_SHARES of the region's size, over
    starts within SHIFT_WINDOW_SEC of the fitted start but more than separation_sec away from it."""
    placements, _ = _shifted_placements(index, hashes, gif_times, region, fit, separation_sec,
                                        [share * region.w for share in SHIFT_SHARES],
                                        [share * region.h for share in SHIFT_SHARES])
    return min([float(COST_CAP_BITS)] + [cost for cost, _ in placements])


def _better_shifted_region(index, hashes, gif_times, region: Region,
                           fit: LineFit) -> tuple[Region, tuple[int, int]] | None:
    """The region shifted along x or y by SHIFT_STEP_PX steps (up to the largest of SHIFT_SHARES)
    whose best start within SHIFT_WINDOW_SEC of the fitted one fits better than the region's own
    line, and the frames (first, stop) searched; None when none does."""
    reach = max(abs(share) for share in SHIFT_SHARES)
    dxs, dys = ([sign * step for step in SHIFT_STEP_PX * np.arange(1, int(reach * size / SHIFT_STEP_PX) + 1)
                 for sign in (-1, 1)] for size in (region.w, region.h))
    placements, window = _shifted_placements(index, hashes, gif_times, region, fit, 0.0, dxs, dys)
    if not placements:
        return None
    cost, shifted = min(placements, key=lambda p: p[0])
    return (shifted, window) if cost < fit.cost else None


def _settle(index, pictures, hashes, gif_times, mirrored: bool, fit: LineFit, region: Region, speed_range):
    """(region, distances, fit): the box pulled to a quarter pixel by the frames its line
    matched, then the whole video re-hashed inside it and fitted; None when no line fits."""
    # Refine on the frames that fit, so a stretch the line missed cannot pull the box away.
    fitting = fit.inliers if fit.inliers.sum() >= MIN_REFINE_FRAMES else np.ones(len(fit.inliers), dtype=bool)
    region = refine_region(index, pictures[fitting], mirrored, fit.matched[fitting], region)
    distances = hamming_matrix(hashes, region.hashes(index.thumbs))
    refit = fit_line(distances, gif_times, index.timeline, speed_range)
    return None if refit is None else (region, distances, refit)


def search(index, pictures: np.ndarray, gif_times: np.ndarray, speed_range, mirrored: bool,
           separation_sec: float) -> CropMatch | None:
    """The crop region whose re-hashed video gives the best temporal line, or None.

    pictures: (k, H, W) uint8 luma of the GIF's picture (bars stripped); mirrored: whether
    to look for the picture flipped left-right; separation_sec: how far apart two starts
    must be to count as different placements (for shifted_region_cost).
    """
    duration = float(gif_times[-1] - gif_times[0])
    tiles = index.crop_tiles
    images = _template_images(pictures, gif_times, duration)
    lag_ranges = _lag_ranges(duration, tiles.stride * index.frame_interval, speed_range)
    coarse = _coarse_boxes(tiles, images, pictures.shape[2] / pictures.shape[1], lag_ranges, mirrored)[:FINE_BOXES]
    fine = sorted((_fine_box(index, images, box, tiles.stride) for box in coarse), key=lambda b: -b.ncc)
    hashes = _gif_hashes(pictures, mirrored)
    best = None
    for box in fine[:VERIFIED_BOXES]:
        region = Region(box.x, box.y, box.w, box.h)
        fit = _local_fit(index, region, hashes, gif_times, _near_tile(index, box, tiles.stride, duration,
                                                                      speed_range), speed_range)
        if fit is not None and (best is None or fit.score > best[0].score):
            best = (fit, region)
    if best is None:
        return None
    settled = _settle(index, pictures, hashes, gif_times, mirrored, *best, speed_range)
    if settled is None:
        return None
    region, distances, fit = settled
    # On scrolling or panning material the box's place trades against time, and the coarse
    # search (tiles, three moments) can settle on the wrong point of that trade: the rest of the
    # GIF (a cut, a still stretch) then fits only the right one. A line that fits some stretch
    # of the GIF is looked for along the trade, and the better line taken.
    # A line that fits every GIF frame leaves nothing for the trade to explain better.
    better = None
    if MIN_REFINE_FRAMES <= fit.inliers.sum() < len(fit.inliers):
        better = _better_shifted_region(index, hashes, gif_times, region, fit)
    if better is not None:
        shifted, window = better
        local = _local_fit(index, shifted, hashes, gif_times, window, speed_range)
        moved = None if local is None else _settle(index, pictures, hashes, gif_times, mirrored, local, shifted,
                                                   speed_range)
        if moved is not None and moved[2].score > fit.score:
            region, distances, fit = moved
    return CropMatch(pictures, mirrored, region, distances, fit,
                     _shifted_region_cost(index, hashes, gif_times, region, fit, separation_sec))
