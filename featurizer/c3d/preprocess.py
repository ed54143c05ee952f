"""C3D's input clips from a segment's frames, prepared as the Video2GIF code release does.

A segment is cut into snippets of 16 frames every 8 frames (starts 0, 8, 16, ... while a
whole snippet fits). Each frame is resized to 128x171 (H x W), put in the weights' channel
order, the snippet mean (per frame, pixel and channel) is subtracted, and the centre
112x112 is cropped; with mirroring, each snippet also gives its horizontally flipped clip.
A segment's feature is the mean fc6 over all its clips.

Channel order: the Sports-1M weights come from Caffe, which read frames with OpenCV, so
they (and the snippet mean) expect BGR; decoders here give RGB, so frames are converted.

One difference from the release, deliberate: frames are resized with area averaging (the
release used skimage's bilinear resize, which aliases when shrinking a large frame).

numpy and OpenCV only.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

SNIPPET_FRAMES = 16
SNIPPET_STRIDE = 8  # half a snippet: consecutive snippets overlap by 50%
RESIZED_HEIGHT, RESIZED_WIDTH = 128, 171
CROP_SIZE = 112
CROP_TOP = (RESIZED_HEIGHT - CROP_SIZE) // 2  # 8
CROP_LEFT = (RESIZED_WIDTH - CROP_SIZE) // 2  # 29: the release crops columns 29:141
CLIP_SHAPE = (SNIPPET_FRAMES, CROP_SIZE, CROP_SIZE, 3)
BGR, RGB = "BGR", "RGB"
# A frame counts as on a tick of the resampling clock if within this share of a tick of it
# (timestamps are rounded to the container's time base).
TICK_TOLERANCE = 0.01
WEIGHTS_CHANNEL_ORDER = BGR


class FrameRateSampler:
    """Keeps the first frame at or after each tick of a clock running at `fps`."""

    def __init__(self, fps: float):
        if fps <= 0:
            raise ValueError("fps must be positive")
        self._fps = fps
        self._next_tick = 0

    def keep(self, time_sec: float) -> bool:
        position = time_sec * self._fps
        if position < self._next_tick - TICK_TOLERANCE:
            return False
        self._next_tick = math.floor(position + TICK_TOLERANCE) + 1
        return True


def snippet_starts(num_frames: int, stride: int = SNIPPET_STRIDE) -> np.ndarray:
    """First frame of each snippet in a segment of num_frames frames (the release's rule)."""
    if num_frames < SNIPPET_FRAMES:
        raise ValueError(f"a segment of {num_frames} frames is shorter than one {SNIPPET_FRAMES}-frame snippet")
    if stride < 1:
        raise ValueError("stride must be positive")
    return np.arange(0, num_frames - SNIPPET_FRAMES + 1, stride)


def resize_frame(frame: np.ndarray) -> np.ndarray:
    """An RGB uint8 frame at C3D's 128x171 (aspect ratio not kept, as in C3D's training)."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB frame (H, W, 3), got shape {frame.shape}")
    if frame.shape[:2] == (RESIZED_HEIGHT, RESIZED_WIDTH):
        return frame
    return cv2.resize(frame, (RESIZED_WIDTH, RESIZED_HEIGHT), interpolation=cv2.INTER_AREA)


def to_channel_order(frames_rgb: np.ndarray, channel_order: str) -> np.ndarray:
    """RGB uint8 frames (..., H, W, 3) in channel_order. For BGR the array itself is changed
    (one call, no copy): pass one you own."""
    if channel_order == RGB:
        return frames_rgb
    if channel_order == BGR:
        rows = frames_rgb.reshape(-1, frames_rgb.shape[-2], 3)
        cv2.cvtColor(rows, cv2.COLOR_RGB2BGR, dst=rows)
        return frames_rgb
    raise ValueError(f"channel_order must be {BGR!r} or {RGB!r}, not {channel_order!r}")


def crop(frames: np.ndarray) -> np.ndarray:
    """The centre 112x112 of (..., 128, 171, c) arrays."""
    return frames[..., CROP_TOP:CROP_TOP + CROP_SIZE, CROP_LEFT:CROP_LEFT + CROP_SIZE, :]


def write_clip(window: np.ndarray, mean_crop: np.ndarray, out: np.ndarray, mirrored: bool = False):
    """One snippet's clip into `out` (16, 112, 112, 3) float32.

    window: its 16 frames (16, 128, 171, 3) uint8 in the weights' channel order; mean_crop:
    the snippet mean's centre crop. Mean subtraction commutes with cropping, so only the
    crop is computed. mirrored: the clip flipped left-right after cropping, as the release
    flips it.

    Whole-clip calls, few and large, with no mixed-type arithmetic: each numpy call
    releases the GIL for one whole clip.
    """
    np.copyto(out, crop(window), casting="unsafe")  # uint8 -> float32
    np.subtract(out, mean_crop, out=out)
    if mirrored:
        rows = out.reshape(-1, CROP_SIZE, 3)  # every frame's rows, one image for OpenCV
        cv2.flip(rows, 1, dst=rows)


def segment_clips(frames_rgb: Sequence[np.ndarray], mean: np.ndarray, mirror: bool = True,
                  stride: int = SNIPPET_STRIDE, channel_order: str = WEIGHTS_CHANNEL_ORDER) -> np.ndarray:
    """All clips of one segment held in memory: float32 (k, 16, 112, 112, 3).

    frames_rgb: the segment's RGB uint8 frames, any size. With mirror, clip 2i is snippet
    i and clip 2i + 1 its mirror image.
    """
    starts = snippet_starts(len(frames_rgb), stride)
    frames = to_channel_order(np.stack([resize_frame(frame) for frame in frames_rgb]), channel_order)
    mean_crop = crop(mean)
    versions = (False, True) if mirror else (False,)
    clips = np.empty((len(starts) * len(versions), *CLIP_SHAPE), dtype=np.float32)
    for index, (start, mirrored) in enumerate((s, m) for s in starts for m in versions):
        write_clip(frames[start:start + SNIPPET_FRAMES], mean_crop, clips[index], mirrored)
    return clips
