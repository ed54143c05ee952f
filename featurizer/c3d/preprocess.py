"""C3D's input clips, prepared as the Video2GIF code release does: the constants and the sampling.

A segment is cut into snippets of 16 frames every 8 frames (starts 0, 8, 16, ... while a
whole snippet fits). Each frame is resized to 128x171 (H x W), put in the weights' channel
order, the snippet mean (per frame, pixel and channel) is subtracted, and the centre
112x112 is cropped; with mirroring, each snippet also gives its horizontally flipped clip.
A segment's feature is the mean fc6 over all its clips.

Where each step runs: the decoder scales frames to 128x171 (featurizer.c3d.video_decode),
C3DFrames.snippets cuts the snippets, and the window model in front of C3D
(featurizer.c3d.extractor) crops, reorders the channels, subtracts the mean and mirrors on
the model's device.

Channel order: the Sports-1M weights come from Caffe, which read frames with OpenCV, so
they (and the snippet mean) expect BGR; decoders here give RGB, so frames are converted.

One difference from the release, deliberate: frames are resized with area averaging (the
release used skimage's bilinear resize, which aliases when shrinking a large frame).

numpy only.
"""
from __future__ import annotations

import math

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


def crop(frames: np.ndarray) -> np.ndarray:
    """The centre 112x112 of (..., 128, 171, c) arrays."""
    return frames[..., CROP_TOP:CROP_TOP + CROP_SIZE, CROP_LEFT:CROP_LEFT + CROP_SIZE, :]
