"""Batched DCT perceptual hashes (imagehash.phash's definition) and Hamming distances.

Video2GIF aligns GIF frames to video frames by matching these 64-bit hashes
(section 3, 'Alignment'). imagehash computes one hash per PIL image; here a
whole batch of frames is hashed with two matrix products.
"""
from __future__ import annotations

import cv2
import numpy as np

from featurizer.media.area_resize import resize_frames

HASH_SIDE = 8  # the hash keeps the 8x8 lowest DCT frequencies: 64 bits
GRAY_SIDE = 32  # imagehash: hash_size 8 * highfreq_factor 4

# ITU-R 601 luma in Pillow's fixed point: L = (R*19595 + G*38470 + B*7471 + 2**15) >> 16,
# which is (R*299 + G*587 + B*114) / 1000 rounded, exactly as Image.convert('L') computes it.
_LUMA_WEIGHTS = np.array([19595, 38470, 7471], dtype=np.uint32)

# Coefficients this small are zero up to float rounding (real ones of 0..255 pixels are
# far larger). Snapping them to zero makes flat and symmetric frames (black frames,
# fades, letterbox bars) hash deterministically instead of by rounding noise, which is
# what they would otherwise do here and in imagehash alike.
_ROUNDING_NOISE = 1e-7

_TOP_BIT_FIRST = np.uint64(1) << np.arange(HASH_SIDE * HASH_SIDE - 1, -1, -1, dtype=np.uint64)


def _dct2_matrix(n: int) -> np.ndarray:
    """Unnormalised DCT-II as a matrix: C @ x == scipy.fft.dct(x, type=2, norm=None)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


# Only the 8 lowest frequencies are kept, so only their 8 rows of the matrix are needed.
_DCT_LOW_ROWS = _dct2_matrix(GRAY_SIDE)[:HASH_SIDE]


def phash_from_gray32(gray32: np.ndarray) -> np.ndarray:
    """(n, 32, 32) grayscale -> (n,) uint64 hashes, bit-identical to imagehash.phash.

    The 2-D DCT-II along rows then columns is C @ X @ C.T; bit = coefficient > median
    of the 64 lowest-frequency coefficients (DC included), packed row-major with the
    first bit most significant, so int(str(imagehash.phash(img)), 16) == our value.
    """
    pixels = np.asarray(gray32, dtype=np.float64)
    if pixels.ndim != 3 or pixels.shape[1:] != (GRAY_SIDE, GRAY_SIDE):
        raise ValueError(f"expected (n, {GRAY_SIDE}, {GRAY_SIDE}) frames, got {pixels.shape}")
    low = _DCT_LOW_ROWS @ pixels @ _DCT_LOW_ROWS.T  # (n, 8, 8)
    low[np.abs(low) < _ROUNDING_NOISE] = 0.0
    coefficients = low.reshape(len(low), HASH_SIDE * HASH_SIDE)
    medians = np.median(coefficients, axis=1, keepdims=True)
    bits = coefficients > medians
    return (bits * _TOP_BIT_FIRST).sum(axis=1, dtype=np.uint64)


def to_luma(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB uint8 -> (...) uint8 luma, equal to Pillow's convert('L')."""
    luma = rgb[..., 0] * _LUMA_WEIGHTS[0]
    luma += rgb[..., 1] * _LUMA_WEIGHTS[1]
    luma += rgb[..., 2] * _LUMA_WEIGHTS[2]
    luma += np.uint32(1 << 15)
    luma >>= 16
    return luma.astype(np.uint8)


def to_gray32(frames: np.ndarray) -> np.ndarray:
    """(n, H, W) gray or (n, H, W, 3) RGB uint8 -> (n, 32, 32) float32 ready for hashing.

    Resizing uses cv2.INTER_AREA (pixel-area averaging) and is rounded to uint8 like
    the 'L' image imagehash resizes. imagehash resizes with Pillow's LANCZOS instead,
    so hashes of frames larger than 32x32 differ from imagehash's by a few bits
    (tests/featurizer/align/test_phash.py measures it); 32x32 frames hash identically. Hash GIF and
    video frames through this same function so that they are comparable.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    rgb = frames.ndim == 4 and frames.shape[-1] == 3
    if not rgb and frames.ndim != 3:
        raise ValueError(f"expected (n, H, W) or (n, H, W, 3) frames, got {frames.shape}")
    if rgb:  # one frame at a time keeps temporaries small
        gray32 = np.empty((len(frames), GRAY_SIDE, GRAY_SIDE), dtype=np.float32)
        for i, frame in enumerate(frames):
            gray32[i] = cv2.resize(to_luma(frame), (GRAY_SIDE, GRAY_SIDE), interpolation=cv2.INTER_AREA)
        return gray32
    return resize_frames(frames, (GRAY_SIDE, GRAY_SIDE)).astype(np.float32)


def phash_frames(frames: np.ndarray) -> np.ndarray:
    """(n, H, W) gray or (n, H, W, 3) RGB uint8 -> (n,) uint64 perceptual hashes."""
    return phash_from_gray32(to_gray32(frames))


_HAMMING_CHUNK_CELLS = 1 << 16  # XOR temporaries of 512 KiB: they stay in cache and need no fresh pages


def hamming_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint64 hashes (n,), (m,) -> (n, m) uint8 numbers of differing bits."""
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    distances = np.empty((len(a), len(b)), dtype=np.uint8)
    rows_per_chunk = max(1, _HAMMING_CHUNK_CELLS // max(1, len(b)))
    for start in range(0, len(a), rows_per_chunk):
        rows = a[start:start + rows_per_chunk, None] ^ b[None, :]
        distances[start:start + rows_per_chunk] = np.bitwise_count(rows)
    return distances
