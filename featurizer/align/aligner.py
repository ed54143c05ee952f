"""Place a GIF in its source video: the span it shows, how it plays it, and how sure we are.

Video2GIF (Gygli et al., CVPR 2016, section 3) matches DCT perceptual hashes of every
GIF frame against every video frame. Here that O(nk) Hamming matrix feeds a robust
constant-speed line fit (featurizer.align.temporal_fit), tried on the GIF's moving picture
(bars stripped; against the picture inside the video's own bars when it has them) and on the
whole canvas, each as is and mirrored. The best line is then polished and verified on pixels
(featurizer.align.pixel_match). A line that is not a clear match is weighed against the GIF
played reversed and in two pieces that join: boomerangs, rewinds, speed ramps
(featurizer.align.playback). GIFs that match no full frame are tried on parts of the picture
(site overlays cover some of it), then get a crop search (featurizer.align.crop_search), after
which the video's thumbnails are re-hashed inside the found crop box. Everything comes from
the one decode pass of featurizer.align.video_index.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from featurizer.align import crop_search, playback
from featurizer.align.phash import hamming_matrix, phash_from_gray32, to_gray32
from featurizer.align.picture_area import Box, gif_picture_box, whole
from featurizer.align.pixel_match import MATCH_NCC, PixelFit, gif_vectors, refine
from featurizer.align.playback import Piece
from featurizer.align.regions import Region
from featurizer.align.temporal_fit import (
    COST_CAP_BITS,
    DEFAULT_SPEED_RANGE,
    INLIER_BITS,
    LineFit,
    fit_line,
    measure_ambiguity,
    segment_start,
)
from featurizer.align.video_index import VideoIndex, index_video
from featurizer.media.area_resize import resize_frames
from featurizer.media.compute_threads import one_blas_thread, one_opencv_thread
from featurizer.media.errors import TOO_FEW_FRAMES, MediaError
from featurizer.media.gif import GifFrames, GifReader

ALIGNER = "phash-pieces-v2"

# Acceptance: the share of GIF frames that fit the video frame the line puts them on (a GIF
# sharing only some shots with the video falls short), and the share within INLIER_BITS
# of their frame's hash (the line must rest on hash matches, not on the pixel similarity
# of bland material alone).
MIN_FITTING_SHARE = 0.75
# Confidence grows with the fitting share from MIN_FITTING_SHARE to full at this share.
FULL_FITTING_SHARE = 0.95
# Below this share of fitting frames, a GIF is reported as not from the video at all.
FOREIGN_FITTING_SHARE = 0.35
MIN_HASH_INLIER_SHARE = 0.4
# Hash lines with fewer hash inliers than this are not checked on pixels (_hopeful).
HOPEFUL_HASH_INLIER_SHARE = MIN_HASH_INLIER_SHARE / 2
# The crop search works on the GIF's picture scaled to at most this long a side: twice
# the thumbnails' long side, since a crop box is at most a thumbnail.
WORK_LONG_SIDE = 128
# GIF frames matched (evenly spread): more add time, not accuracy, to a line fit.
MAX_MATCHED_FRAMES = 48
# Frames the bar detection looks at (evenly spread): enough to see what moves.
BAR_SAMPLE_FRAMES = 8
# GIF frames are matched as luma at most this long a side, shrunk as each is decoded: far
# above the thumbnails and WORK_LONG_SIDE they are compared at, and above the few hundred
# pixels GIF sites' canvases mostly have, while a 4096x4096 canvas costs 1 MB a frame, not 16.
MAX_LUMA_SIDE = 1024
# Readings of the GIF (canvas parts, orientations) whose hash lines are checked on pixels
# when the first reading is not a clear match, and the confidence that makes it clear.
PIXEL_CHECKED_READINGS = 2
CLEAR_CONFIDENCE = 0.5
# A crop search has far more freedom (box x time x speed) than a full-frame match, so a
# cropped reading must also be this unambiguous (confidence) to count as found.
MIN_CROP_CONFIDENCE = 0.1
# Two pieces replace one line only when their frames are this much nearer on hashes (mean bits).
PIECE_COST_BITS = 1.0
# Parts of the picture (x, y, w, h as shares) matched on their own when the whole picture is not: halves
# and the middle band clear of top and bottom captions.
PICTURE_PARTS = ((0.0, 0.0, 1.0, 0.5), (0.0, 0.5, 1.0, 0.5), (0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 0.5, 1.0),
                 (0.0, 0.25, 1.0, 0.5))
# Ambiguity: other placements must be this far away to count as different ones ...
SEPARATION_SEC = 1.0
SPEED_FACTOR = 1.25
# ... and cost this many bits more (mean per GIF frame) for full confidence.
CLEAR_MARGIN_BITS = 6.0


@dataclass
class Alignment:
    aligned: bool
    start_sec: float | None = None
    end_sec: float | None = None
    start_frame: int | None = None
    end_frame: int | None = None  # exclusive: the frame after the last one the GIF covers
    speed: float | None = None  # video seconds per GIF second
    confidence: float = 0.0  # 0..1
    inlier_share: float = 0.0  # share of GIF frames matching the frame the fitted line puts them on
    mirrored: bool = False
    crop: tuple[int, int, int, int] | None = None  # (x, y, w, h) in video pixels
    direction: str | None = None  # how the GIF plays the span: forward, reverse, boomerang, reverse-forward
    distance_mean: float | None = None  # Hamming distance of GIF frames to their matched frames
    distance_median: float | None = None
    reason: str | None = None  # why not aligned


@dataclass
class Reading:
    """One way of reading the GIF: a part of its canvas, maybe mirrored, showing the whole
    video frame (region None) or a region of it (in thumbnail pixels): the picture inside the
    video's own bars, a crop box, or a part of the picture an overlay leaves clear (partial)."""

    pictures: np.ndarray  # (k, H, W) uint8 luma of the canvas part
    mirrored: bool
    region: Region | None = None
    partial: bool = False  # a part of the picture only: the rest may be covered by a site's overlay


@dataclass
class _Candidate:
    reading: Reading
    distances: np.ndarray  # (k, n) Hamming matrix the hash line came from
    hash_fit: LineFit
    pixel_fit: PixelFit | None = None
    shifted_region_cost: float = float("inf")  # crops only: see crop_search.CropMatch
    confidence: float | None = None  # _confidence's answer, once asked (after the pixel check)

    @property
    def checked_fit(self) -> PixelFit:
        """The pixel-polished line; only for a candidate that went through the pixel check."""
        if self.pixel_fit is None:
            raise ValueError("candidate has no pixel fit: it was not pixel-checked")
        return self.pixel_fit

    def fitting(self) -> np.ndarray:
        """(k,) bool: GIF frames that match their matched video frame, on pixels or on hashes
        (fine textures can defeat either one, rarely both)."""
        return (self.checked_fit.similarity >= MATCH_NCC) | (self.matched_distances() <= INLIER_BITS)

    @property
    def fitting_share(self) -> float:
        return 0.0 if self.pixel_fit is None else float(self.fitting().mean())

    @property
    def hash_inlier_share(self) -> float:
        """Share of GIF frames within INLIER_BITS of the frame the pixel-polished line matched."""
        return 0.0 if self.pixel_fit is None else float((self.matched_distances() <= INLIER_BITS).mean())

    def matched_distances(self) -> np.ndarray:
        """(k,) Hamming distance of each GIF frame to the video frame the pixel-polished line matched."""
        matched = self.checked_fit.matched
        return self.distances[np.arange(len(matched)), matched]

    @property
    def acceptable(self) -> bool:
        return self.fitting_share >= MIN_FITTING_SHARE and self.hash_inlier_share >= MIN_HASH_INLIER_SHARE

    @property
    def pixel_score(self) -> float:
        return -1.0 if self.pixel_fit is None else float(np.clip(self.pixel_fit.similarity, -1, 1).mean())


@dataclass
class _PreparedGif:
    """A GIF's frames as the matching needs them, prepared once."""

    times: np.ndarray  # (k,) seconds each frame comes on screen
    ends: np.ndarray  # (k,) seconds each frame leaves the screen
    luma: np.ndarray  # (k, H, W) uint8
    picture_part: Box  # where the moving picture sits on the canvas
    thumb_size: tuple[int, int]  # the video's thumbnails' (w, h)
    video_picture: Region | None  # the picture inside the video's own bars, None without bars
    _scaled_cache: dict = field(default_factory=dict)  # (Box, size) -> its pictures at size, made when first asked

    def readings(self) -> list[Reading]:
        """The full-frame readings, scaled only when asked for: the moving picture as the picture
        inside the video's bars first, when the video has bars (with or without the video's bars,
        a GIF's moving picture is the video's picture); then the moving picture as the whole frame
        (the reading most GIFs need), the whole canvas when that differs; then all mirrored."""
        boxes = [self.picture_part] + ([whole(self.luma)] if whole(self.luma) != self.picture_part else [])
        shown: list[tuple[Box, Region | None]] = [(box, None) for box in boxes]
        if self.video_picture is not None:
            shown.insert(0, (self.picture_part, self.video_picture))
        return [Reading(self._scaled(box, region), mirrored, region)
                for mirrored in (False, True) for box, region in shown]

    def partial_readings(self) -> list[Reading]:
        """The same part of the GIF's picture and of the video's, for each of PICTURE_PARTS: sites
        draw logos, text boxes, captions and stickers over some of the picture, rarely all of it."""
        video = self.video_picture or Region.whole(self.thumb_size[1], self.thumb_size[0])
        box = self.picture_part
        readings = []
        for x, y, w, h in PICTURE_PARTS:
            part = Box(box.top + round(y * box.height), box.top + round((y + h) * box.height),
                       box.left + round(x * box.width), box.left + round((x + w) * box.width))
            region = Region(video.x + x * video.w, video.y + y * video.h, w * video.w, h * video.h)
            readings.append(Reading(self._scaled(part, region), False, region, partial=True))
        return readings

    def first_reading(self) -> Reading:
        return Reading(self._scaled(self.picture_part, self.video_picture), False, self.video_picture)

    def _scaled(self, box: Box, region: Region | None) -> np.ndarray:
        size = self.thumb_size if region is None else region.pixel_size()
        if (box, size) not in self._scaled_cache:
            self._scaled_cache[box, size] = resize_frames(box.take(self.luma), size)
        return self._scaled_cache[box, size]

    def picture(self) -> np.ndarray:
        """(k, h, w) luma of the moving picture, long side at most WORK_LONG_SIDE."""
        picture = self.picture_part.take(self.luma)
        size = _shrunk_size(picture.shape[2], picture.shape[1], WORK_LONG_SIDE)
        return picture if size is None else resize_frames(picture, size)


def _load(gif) -> GifFrames | GifReader:
    """Frames decoded already, or a reader that decodes them one at a time when asked."""
    return gif if isinstance(gif, GifFrames) else GifReader(gif)


def _gif_name(gif) -> str:
    return os.fspath(gif) if isinstance(gif, (str, os.PathLike)) else "<gif>"


def _gray_frames(frames: GifFrames | GifReader, used: np.ndarray):
    """The used frames' luma (ITU-R 601, like the video's gray decode), one at a time."""
    if isinstance(frames, GifFrames):
        return (cv2.cvtColor(frames.frames[i], cv2.COLOR_RGB2GRAY) for i in used)
    return (cv2.cvtColor(canvas, cv2.COLOR_RGBA2GRAY) for _, canvas in frames.canvases(used))


def _shrunk_size(width: int, height: int, long_side: int) -> tuple[int, int] | None:
    """(w, h) scaled down so the long side is `long_side`; None when it is no longer already."""
    scale = long_side / max(width, height)
    if scale >= 1:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


def _used_luma(frames: GifFrames | GifReader, used: np.ndarray) -> np.ndarray:
    """(k, h, w) uint8 luma of the used frames, long side at most MAX_LUMA_SIDE, each shrunk as
    it is decoded, so memory is the k small pictures, not k canvases."""
    luma: np.ndarray | None = None
    for j, gray in enumerate(_gray_frames(frames, used)):
        if luma is None:
            width, height = _shrunk_size(gray.shape[1], gray.shape[0], MAX_LUMA_SIDE) or gray.shape[::-1]
            luma = np.empty((len(used), height, width), dtype=np.uint8)
        if gray.shape == luma.shape[1:]:
            luma[j] = gray
        else:
            luma[j] = cv2.resize(gray, (luma.shape[2], luma.shape[1]), interpolation=cv2.INTER_AREA)
    if luma is None:  # align_gif refuses GIFs of fewer than two frames before this
        raise ValueError("no GIF frame to read")
    return luma


def _prepare(frames: GifFrames | GifReader, index: VideoIndex) -> _PreparedGif:
    """Up to MAX_MATCHED_FRAMES frames in luma and the moving picture found on a sample of them."""
    count = frames.num_frames
    used = np.unique(np.linspace(0, count - 1, min(count, MAX_MATCHED_FRAMES)).round().astype(int))
    luma = _used_luma(frames, used)
    k = len(luma)
    sample = np.unique(np.linspace(0, k - 1, min(k, BAR_SAMPLE_FRAMES)).round().astype(int))
    picture_part = gif_picture_box(luma[sample])
    starts = frames.start_times[used]
    return _PreparedGif(starts, starts + frames.durations[used], luma, picture_part, index.thumb_size,
                        index.picture)


def _hash_candidate(index: VideoIndex, reading: Reading, gif_times, speed_range) -> _Candidate | None:
    """A full-frame reading's hash line against the video's hashes of the frame or of its picture."""
    gray = to_gray32(reading.pictures)
    hashes = phash_from_gray32(gray[:, :, ::-1] if reading.mirrored else gray)
    video_hashes = index.hashes if reading.region is None else index.region_hashes(reading.region)
    distances = hamming_matrix(hashes, video_hashes)
    # No line has more inliers than there are GIF frames within INLIER_BITS of some video frame:
    # when those are too few to be _hopeful, the line fit is skipped (cropped GIFs' full frames).
    if (distances.min(axis=1) <= INLIER_BITS).mean() < HOPEFUL_HASH_INLIER_SHARE:
        return None
    fit = fit_line(distances, gif_times, index.timeline, speed_range)
    return None if fit is None else _Candidate(reading, distances, fit)


def _check_pixels(index: VideoIndex, candidate: _Candidate, gif_times, speed_range) -> _Candidate:
    """Polish the candidate's hash line on pixels (thumbnails, or its crop region of them)."""
    reading = candidate.reading
    if reading.region is None:
        size = index.thumb_size

        def video_pictures(frames):
            return index.thumbs[frames]
    else:
        size = reading.region.pixel_size()

        def video_pictures(frames):
            return reading.region.sample(index.thumbs[frames], size)
    gif = gif_vectors(reading.pictures, size, reading.mirrored)
    candidate.pixel_fit = refine(gif, video_pictures, gif_times, index.timeline, candidate.hash_fit.speed,
                                 candidate.hash_fit.offset, speed_range)
    return candidate


def _best_checked(index, candidates: list[_Candidate], gif_times, speed_range) -> _Candidate | None:
    """Candidates checked on pixels in order of their hash lines' scores, up to the first
    acceptable one, of those _hopeful; the best checked."""
    best = None
    for candidate in sorted(filter(_hopeful, candidates), key=lambda c: -c.hash_fit.score)[:PIXEL_CHECKED_READINGS]:
        _check_pixels(index, candidate, gif_times, speed_range)
        if best is None or _preferred(candidate, best):
            best = candidate
        if best.acceptable:
            break
    return best


def _crop_candidate(index: VideoIndex, gif: _PreparedGif, mirrored: bool, speed_range) -> _Candidate | None:
    """The crop search on the GIF's moving picture, checked on pixels."""
    match = crop_search.search(index, gif.picture(), gif.times, speed_range, mirrored, SEPARATION_SEC)
    if match is None:
        return None
    candidate = _Candidate(Reading(match.pictures, match.mirrored, match.region), match.distances, match.fit,
                           shifted_region_cost=match.shifted_region_cost)
    return _check_pixels(index, candidate, gif.times, speed_range)


def _confidence(candidate: _Candidate, gif_times: np.ndarray, index: VideoIndex) -> float:
    """The evidence of the fitting frames times uniqueness: how much worse (mean bits per GIF frame)
    the best clearly different placement fits: another start, another speed, a shifted crop."""
    if candidate.confidence is not None:
        return candidate.confidence
    ambiguity = measure_ambiguity(candidate.distances, gif_times, index.timeline, candidate.hash_fit,
                                  SEPARATION_SEC, SPEED_FACTOR)
    runner_up = min(ambiguity.other_offset_cost, ambiguity.other_speed_cost, candidate.shifted_region_cost)
    uniqueness = float(np.clip((runner_up - ambiguity.best_cost) / CLEAR_MARGIN_BITS, 0, 1))
    candidate.confidence = fitting_evidence(candidate.fitting_share) * uniqueness
    return candidate.confidence


def fitting_evidence(fitting_share: float) -> float:
    """0 at MIN_FITTING_SHARE, rising linearly to 1 at FULL_FITTING_SHARE: no cliff where a GIF
    turns from unaligned to aligned, only a confidence near 0."""
    return float(np.clip((fitting_share - MIN_FITTING_SHARE) / (FULL_FITTING_SHARE - MIN_FITTING_SHARE), 0, 1))


@dataclass
class _Placement:
    """How the GIF plays the video: its pieces (one, or two that join), each with its checked line."""

    pieces: list[Piece]
    candidates: list[_Candidate]

    @property
    def reading(self) -> Reading:
        return self.candidates[0].reading

    @property
    def acceptable(self) -> bool:
        return all(candidate.acceptable for candidate in self.candidates)

    @property
    def fitting_share(self) -> float:
        return float(np.concatenate([c.fitting() for c in self.candidates if c.pixel_fit is not None] or
                                    [np.zeros(1, bool)]).mean())

    @property
    def hash_inlier_share(self) -> float:
        return float(np.mean([c.hash_inlier_share for c in self.candidates]))

    def matched_distances(self) -> np.ndarray:
        return np.concatenate([c.matched_distances() for c in self.candidates])

    def confidence(self, index: VideoIndex) -> float:
        """The most certain piece's: pieces must join, so one piece placed for sure pins the other
        (a boomerang's halves each match the same span; either alone is as ambiguous as half a GIF)."""
        return max(_confidence(c, piece.times, index) for piece, c in zip(self.pieces, self.candidates))

    @property
    def cost(self) -> float:
        """Mean capped hash distance of the GIF's frames to the frames matched, plus PIECE_COST_BITS
        for each piece past the first: two pieces always fit a little closer than one line."""
        return (float(np.minimum(self.matched_distances(), COST_CAP_BITS).mean())
                + PIECE_COST_BITS * (len(self.pieces) - 1))

    def clear(self, index: VideoIndex) -> bool:
        """Acceptable with every frame fitting and unambiguous: no other way of playing is looked for."""
        return (self.acceptable and self.fitting_share >= FULL_FITTING_SHARE
                and self.confidence(index) >= CLEAR_CONFIDENCE)

    def better_than(self, other: _Placement | None) -> bool:
        """Acceptable first, then more frames fitting (all from FULL_FITTING_SHARE up count alike),
        then nearer on hashes."""
        if other is None:
            return True
        return self._rank() > other._rank()

    def _rank(self) -> tuple[bool, float, float]:
        return self.acceptable, min(self.fitting_share, FULL_FITTING_SHARE), -self.cost


def _unaligned(reason: str, placement: _Placement | None = None) -> Alignment:
    if placement is None or any(c.pixel_fit is None for c in placement.candidates):
        return Alignment(aligned=False, reason=reason)
    distances = placement.matched_distances()
    return Alignment(aligned=False, inlier_share=placement.fitting_share, mirrored=placement.reading.mirrored,
                     distance_mean=float(distances.mean()), distance_median=float(np.median(distances)),
                     reason=reason)


def _video_crop(index: VideoIndex, region: Region | None) -> tuple[int, int, int, int] | None:
    """The crop region in video pixels, (x, y, w, h)."""
    if region is None:
        return None
    scale_x, scale_y = index.thumb_scale()
    return (round(region.x * scale_x), round(region.y * scale_y), round(region.w * scale_x),
            round(region.h * scale_y))


def _piece_span(piece: Piece, candidate: _Candidate, index: VideoIndex, local_end: bool) -> tuple[int, float, int]:
    """(start frame, start second, end frame) of the video span one piece covers.

    local_end: end the span after the video frame its last fitted GIF frame shows, rather than
    where the line runs out: a piece of a speed ramp keeps slowing, so its line overshoots."""
    fit = candidate.checked_fit
    times = index.times
    start_frame = segment_start(fit.speed, fit.matched, candidate.fitting(), piece.times - piece.origin,
                                index.timeline)
    start_sec = float(times[start_frame])
    if local_end and candidate.fitting()[-1]:
        steps = max(1, round(fit.speed * piece.last_shown / index.frame_interval))
        end_frame = min(index.num_frames, int(fit.matched[-1]) + steps)
    else:
        end_frame = _nearest_frame_boundary(times, index.frame_interval, start_sec + fit.speed * piece.duration)
    return start_frame, start_sec, end_frame


def _aligned(placement: _Placement, confidence: float, index: VideoIndex) -> Alignment:
    local_end = len(placement.pieces) > 1
    spans = [_piece_span(piece, c, index, local_end) for piece, c in zip(placement.pieces, placement.candidates)]
    start_frame, start_sec, _ = min(spans)
    end_frame = max(span[2] for span in spans)
    end_sec = float(index.times[end_frame]) if end_frame < index.num_frames else index.duration_sec
    played = sum(piece.duration for piece in placement.pieces)
    speed = sum(c.checked_fit.speed * piece.duration for piece, c in zip(placement.pieces, placement.candidates))
    distances = placement.matched_distances()
    return Alignment(
        aligned=True, start_sec=start_sec, end_sec=end_sec, start_frame=start_frame, end_frame=end_frame,
        speed=speed / played if played > 0 else placement.candidates[0].checked_fit.speed, confidence=confidence,
        inlier_share=placement.fitting_share, mirrored=placement.reading.mirrored,
        crop=_video_crop(index, placement.reading.region) if _is_crop(placement.reading, index) else None,
        direction=playback.direction(placement.pieces),
        distance_mean=float(distances.mean()), distance_median=float(np.median(distances)),
    )


def _nearest_frame_boundary(times: np.ndarray, frame_interval: float, moment: float) -> int:
    """Index of the frame starting nearest `moment` (len(times) for the video's end)."""
    boundaries = np.append(times, times[-1] + frame_interval)
    after = int(np.clip(np.searchsorted(boundaries, moment), 1, len(boundaries) - 1))
    return after - 1 if moment - boundaries[after - 1] < boundaries[after] - moment else after


def align_gif(index: VideoIndex, gif, speed_range: tuple[float, float] = DEFAULT_SPEED_RANGE) -> Alignment:
    """Where in the indexed video the GIF comes from, and how it plays that span.

    gif: a path, GIF bytes, or GifFrames. Raises MediaError for unreadable GIFs and for
    one-frame GIFs (too_few_frames: a still has no timing to align); returns an
    unaligned Alignment, with the reason, for GIFs not found in the video. A path or bytes
    is decoded frame by frame into small luma pictures (_used_luma): the whole animation
    never sits in memory.
    """
    frames = _load(gif)
    if frames.num_frames < 2:
        raise MediaError(TOO_FEW_FRAMES, _gif_name(gif), "a one-frame GIF has no motion to align")
    if speed_range[0] * frames.duration_sec > index.duration_sec:
        return _unaligned(f"the GIF ({frames.duration_sec:.2f} s) is longer than the video "
                          f"({index.duration_sec:.2f} s) even played at {speed_range[0]}x")
    with one_blas_thread(), one_opencv_thread():
        gif = _prepare(frames, index)
        best = _best_placement(index, gif, speed_range)
        if best is None or not best.acceptable:
            return _unaligned(_no_match_reason(best, frames, index, speed_range), best)
        confidence = best.confidence(index)
        if (_is_crop(best.reading, index) or best.reading.partial) and confidence < MIN_CROP_CONFIDENCE:
            what = "part of the picture" if best.reading.partial else "cropped picture"
            return _unaligned(f"ambiguous: the GIF's {what} fits other places of the video about as well", best)
        return _aligned(best, confidence, index)


def _best_placement(index: VideoIndex, gif: _PreparedGif, speed_range) -> _Placement | None:
    """The full frame, played forward or otherwise; then, unless that is a clear match, parts of the
    picture (overlays); then, only if nothing is acceptable, a crop, and unless that is a clear
    match, a mirrored crop. The best acceptable, else the best seen."""
    full = _best_full_frame(index, gif, speed_range)
    best: _Placement | None = None if full is None else _played(index, gif, full, speed_range)
    if best is not None and best.acceptable and best.confidence(index) >= CLEAR_CONFIDENCE:
        return best
    for reading in gif.partial_readings():
        partial = _hash_candidate(index, reading, gif.times, speed_range)
        if partial is None or not _hopeful(partial):
            continue
        placement = _played(index, gif, _check_pixels(index, partial, gif.times, speed_range), speed_range)
        if _more_certain(placement, best, index):
            best = placement
        if best is not None and best.acceptable and best.confidence(index) >= CLEAR_CONFIDENCE:
            return best
    if best is not None and best.acceptable:
        return best
    for mirrored in (False, True):
        cropped = _crop_candidate(index, gif, mirrored, speed_range)
        if cropped is None:
            continue
        placement = _played(index, gif, cropped, speed_range)
        if placement.better_than(best):
            best = placement
        if best is not None and best.acceptable and best.confidence(index) >= CLEAR_CONFIDENCE:
            break
    return best


def _more_certain(placement: _Placement, other: _Placement | None, index: VideoIndex) -> bool:
    """Between acceptable placements of different readings (one of the whole picture, one of a
    part), the one both nearer on hashes and more confident: a part clear of an overlay is both,
    while a bland part (sky) can look unique at a placement that fits it worse. A part must also be
    as certain as a crop must be (MIN_CROP_CONFIDENCE) to replace the whole. Otherwise better_than."""
    if other is not None and other.acceptable and placement.acceptable:
        confidence = placement.confidence(index)
        return (placement.cost < other.cost and confidence > other.confidence(index)
                and confidence >= MIN_CROP_CONFIDENCE)
    return placement.better_than(other)


def _played(index: VideoIndex, gif: _PreparedGif, forward: _Candidate, speed_range) -> _Placement:
    """The candidate's reading played forward when that is a clear match; otherwise the best of
    forward, reversed and two pieces that join (boomerangs, rewinds, speed ramps)."""
    k = len(gif.times)
    whole = Piece.of(gif.times, gif.ends, 0, k, False)
    best = _Placement([whole], [forward])
    if best.clear(index):
        return _ramp_if_better(index, gif, best, speed_range)
    backward = Piece.of(gif.times, gif.ends, 0, k, True)
    reversed_fit = _fit_piece(index, forward, backward, speed_range)
    wholes = [(whole, forward)]
    if reversed_fit is not None:
        reversed_whole = _Placement([backward], [reversed_fit])
        if reversed_whole.better_than(best):
            best = reversed_whole
            if best.clear(index):
                return best
        wholes.append((backward, reversed_fit))
    for piece, candidate in wholes:
        fitting = candidate.fitting()[::-1] if piece.reversed else candidate.fitting()
        # a line that fits every frame (slow material) has no run end: start the split halfway
        for point in playback.split_points(fitting) or [k // 2]:
            two = _two_pieces(index, gif, forward, point, piece.reversed, speed_range)
            if two is not None and two.better_than(best):
                best = two
    return best


def _ramp_if_better(index: VideoIndex, gif: _PreparedGif, line: _Placement, speed_range) -> _Placement:
    """A speed ramp (slow motion setting in, or ending) still lays one line through the GIF within a
    few frames, so the line is a clear match and its ends are off: two forward pieces meeting at
    the change of speed are kept instead when they are better (clearly nearer on hashes)."""
    if line.cost <= PIECE_COST_BITS:  # two pieces cost at least that: they cannot be better
        return line
    ramp = _split_at(index, gif, line.candidates[0], len(gif.times) // 2, (False, False), speed_range)
    return ramp if ramp is not None and ramp.better_than(line) else line


def _two_pieces(index: VideoIndex, gif: _PreparedGif, whole: _Candidate, point: int, run_reversed: bool,
                speed_range) -> _Placement | None:
    """The GIF split near `point` (a matched frame): the side holding the run of frames the whole
    line fitted keeps that line's direction, the other side may go either way. Lines fitted to
    both sides meet where the GIF really turns (the whole line's run overshoots it on slow
    material), so the split moves there and the sides are fitted again; they must join."""
    best = None
    for directions in ((run_reversed, not run_reversed), (run_reversed, run_reversed),
                       (not run_reversed, run_reversed)):
        placement = _split_at(index, gif, whole, point, directions, speed_range)
        if placement is not None and placement.better_than(best):
            best = placement
        if best is not None and best.acceptable:
            break
    return best


def _split_at(index: VideoIndex, gif: _PreparedGif, whole: _Candidate, point: int, directions: tuple[bool, bool],
              speed_range) -> _Placement | None:
    """Two pieces split at `point`, moved to where their lines meet until it settles (or swings
    between neighbouring frames): the best of the joined ones seen."""
    k = len(gif.times)
    tried: set[int] = set()
    best = None
    while point not in tried and playback.MIN_PIECE_FRAMES <= point <= k - playback.MIN_PIECE_FRAMES:
        tried.add(point)
        pieces = [Piece.of(gif.times, gif.ends, 0, point, directions[0]),
                  Piece.of(gif.times, gif.ends, point, k, directions[1])]
        first, second = (_fit_piece(index, whole, piece, speed_range) for piece in pieces)
        if first is None or second is None:
            break
        lines = [piece.video_line(c.checked_fit.speed, c.checked_fit.offset)
                 for piece, c in zip(pieces, (first, second))]
        if playback.joined(lines[0], lines[1], (gif.times[point - 1], gif.times[point]), index.frame_interval):
            placement = _Placement(pieces, [first, second])
            best = placement if placement.better_than(best) else best
        turn = playback.meeting_time(lines[0], lines[1])
        if turn is None:
            break
        point = int(np.clip(np.searchsorted(gif.times, turn), 1, k - 1))
    return best


def _fit_piece(index: VideoIndex, whole: _Candidate, piece: Piece, speed_range) -> _Candidate | None:
    """The line through one piece of the GIF (the whole candidate's reading and hash distances,
    restricted to the piece's frames in its fitted order), checked on pixels."""
    distances = whole.distances[piece.frames]
    fit = fit_line(distances, piece.times, index.timeline, speed_range)
    if fit is None:
        return None
    reading = whole.reading
    candidate = _Candidate(replace(reading, pictures=reading.pictures[piece.frames]), distances, fit,
                           shifted_region_cost=whole.shifted_region_cost)
    return _check_pixels(index, candidate, piece.times, speed_range) if _hopeful(candidate) else None


def _best_full_frame(index: VideoIndex, gif: _PreparedGif, speed_range) -> _Candidate | None:
    """The moving picture as is first: most GIFs show the plain video frame, and a clear match
    there ends the search. Otherwise every reading (whole canvas, mirrored) competes."""
    first = _hash_candidate(index, gif.first_reading(), gif.times, speed_range)
    if first is not None and _hopeful(first):
        _check_pixels(index, first, gif.times, speed_range)
        if first.acceptable and _confidence(first, gif.times, index) >= CLEAR_CONFIDENCE:
            return first
    others = [_hash_candidate(index, reading, gif.times, speed_range) for reading in gif.readings()[1:]]
    best = _best_checked(index, [c for c in others if c is not None], gif.times, speed_range)
    if first is not None and first.pixel_fit is not None and (best is None or _preferred(first, best)):
        best = first
    return best


def _is_crop(reading: Reading, index: VideoIndex) -> bool:
    """Whether the reading shows a crop box the crop search found (not the whole picture)."""
    return reading.region is not None and reading.region != index.picture and not reading.partial


def _hopeful(candidate: _Candidate) -> bool:
    """Whether a hash line is worth checking on pixels: the pixel polish moves a line by a few
    frames at most, which does not double its hash inliers, so a line with under half the
    hash inliers acceptance needs stays unacceptable (as a cropped GIF's full-frame readings,
    at chance distance, do)."""
    return candidate.hash_fit.inlier_share >= HOPEFUL_HASH_INLIER_SHARE


def _preferred(candidate: _Candidate, other: _Candidate) -> bool:
    return (candidate.acceptable, candidate.pixel_score) > (other.acceptable, other.pixel_score)


def _no_match_reason(best: _Placement | None, frames: GifFrames | GifReader, index: VideoIndex,
                     speed_range) -> str:
    """Why the GIF is not placed, in words a person can act on."""
    longer = (f"; the GIF ({frames.duration_sec:.2f} s) is longer than the video ({index.duration_sec:.2f} s)"
              if frames.duration_sec > index.duration_sec else "")
    share = 0.0 if best is None else best.fitting_share
    hashed = 0.0 if best is None else best.hash_inlier_share
    if share < FOREIGN_FITTING_SHARE or hashed < HOPEFUL_HASH_INLIER_SHARE:
        return (f"not from this video: at the best place in it, {hashed:.0%} of the GIF's frames match on "
                f"perceptual hashes and {share:.0%} on pixels (looked for the whole frame, crops and mirror "
                f"images, at {speed_range[0]}x to {speed_range[1]}x, forward, reversed and boomerang){longer}")
    if share < MIN_FITTING_SHARE:
        return (f"only partly from this video: {share:.0%} of the GIF's frames fit one place, "
                f"{MIN_FITTING_SHARE:.0%} are needed (other footage mixed in, or edited beyond "
                f"forward, reversed, boomerang and two speeds){longer}")
    return (f"too little detail to place: {share:.0%} of the GIF's frames fit one place on pixels, but only "
            f"{hashed:.0%} on perceptual hashes ({MIN_HASH_INLIER_SHARE:.0%} needed){longer}")


def align_video(video_path, gif_paths, speed_range: tuple[float, float] = DEFAULT_SPEED_RANGE) -> list[Alignment]:
    """Index the video once and align each GIF; an unreadable GIF gives an unaligned result."""
    index = index_video(video_path)
    results = []
    for gif_path in gif_paths:
        try:
            results.append(align_gif(index, gif_path, speed_range))
        except MediaError as error:
            results.append(_unaligned(f"{error.kind}: {error.detail}"))
        except OSError as error:
            results.append(_unaligned(f"unreadable: {error}"))
    return results
