"""Rectangles of a picture at sub-pixel precision: resampling and DCT hashes of what they hold.

Resizing a rectangle by area averaging is linear, so it is one matrix per axis (rows:
(out_h, H), columns: (out_w, W)), fractional edges included. The hash of a rectangle
(featurizer.align.phash's definition: signs of the 8x8 lowest DCT frequencies of a 32x32
picture against their median) fuses the resize with the DCT rows into one (8, H) and
one (W, 8) matrix, so a whole video's thumbnails are hashed inside a crop box with two
matrix products per batch and no per-frame resizing.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from featurizer.align.phash import GRAY_SIDE, HASH_SIDE

# Frames hashed per batch: float temporaries of about 1 MB, reused from batch to batch rather
# than freshly mapped (page faults cost more than the arithmetic here).
HASH_BATCH_FRAMES = 256


def area_matrix(start: float, stop: float, size_out: int, first_pixel: int, size_in: int) -> np.ndarray:
    """(size_out, size_in) weights resampling [start, stop) of an axis into size_out cells by area.

    The input covers pixels first_pixel .. first_pixel + size_in - 1 of the axis.
    """
    return area_matrices(np.array([start]), np.array([stop]), size_out, first_pixel, size_in)[0]


def area_matrices(starts: np.ndarray, stops: np.ndarray, size_out: int, first_pixel: int,
                  size_in: int) -> np.ndarray:
    """(r, size_out, size_in): area_matrix for r spans [starts, stops) at once."""
    fractions = np.linspace(0.0, 1.0, size_out + 1)
    edges = starts[:, None] + (stops - starts)[:, None] * fractions[None, :]  # (r, size_out + 1)
    pixels = first_pixel + np.arange(size_in)
    overlap = np.minimum(edges[:, 1:, None], pixels + 1) - np.maximum(edges[:, :-1, None], pixels)
    np.maximum(overlap, 0.0, out=overlap)
    return overlap / np.maximum(overlap.sum(axis=2, keepdims=True), 1e-12)


@lru_cache(maxsize=1)
def _dct_rows() -> np.ndarray:
    """The 8 lowest rows of the unnormalised 32-point DCT-II, as in featurizer.align.phash."""
    k = np.arange(HASH_SIDE)[:, None]
    i = np.arange(GRAY_SIDE)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * GRAY_SIDE))


@dataclass(frozen=True)
class Region:
    """A rectangle of a picture, in (fractional) pixels of that picture."""

    x: float
    y: float
    w: float
    h: float

    @classmethod
    def whole(cls, height: int, width: int) -> Region:
        return cls(0.0, 0.0, float(width), float(height))

    def pixel_size(self) -> tuple[int, int]:
        """(w, h) in whole pixels: the size to sample the rectangle at, one to one."""
        return max(1, round(self.w)), max(1, round(self.h))

    def clipped(self, height: int, width: int) -> Region:
        w, h = min(self.w, width), min(self.h, height)
        return Region(float(np.clip(self.x, 0, width - w)), float(np.clip(self.y, 0, height - h)), w, h)

    def _support(self, height: int, width: int) -> tuple[slice, slice]:
        rows = slice(max(0, int(np.floor(self.y))), min(height, int(np.ceil(self.y + self.h))))
        cols = slice(max(0, int(np.floor(self.x))), min(width, int(np.ceil(self.x + self.w))))
        return rows, cols

    def _matrices(self, height: int, width: int, size: tuple[int, int]):
        rows, cols = self._support(height, width)
        out_w, out_h = size
        left = area_matrix(self.y, self.y + self.h, out_h, rows.start, rows.stop - rows.start)
        right = area_matrix(self.x, self.x + self.w, out_w, cols.start, cols.stop - cols.start).T
        return rows, cols, left, right

    def sample(self, pictures: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(m, H, W) pictures -> (m, out_h, out_w) float32: the rectangle resized to size (w, h)."""
        m, height, width = pictures.shape
        rows, cols, left, right = self._matrices(height, width, size)
        return _sandwich(pictures[:, rows, cols], left.astype(np.float32), right.astype(np.float32))

    def hashes(self, pictures: np.ndarray) -> np.ndarray:
        """(m, H, W) pictures -> (m,) uint64 DCT hashes of the rectangle resized to 32x32 by area."""
        m, height, width = pictures.shape
        rows, cols, left, right = self._matrices(height, width, (GRAY_SIDE, GRAY_SIDE))
        dct = _dct_rows()
        left, right = (dct @ left).astype(np.float32), (right @ dct.T).astype(np.float32)
        hashes = np.empty(m, dtype=np.uint64)
        for first in range(0, m, HASH_BATCH_FRAMES):
            low = _sandwich(pictures[first:first + HASH_BATCH_FRAMES, rows, cols], left, right)
            hashes[first:first + len(low)] = _packed_signs(low.reshape(len(low), -1))
        return hashes

    def shifted_hashes(self, pictures: np.ndarray, dxs, dys) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of the rectangle moved by each dx along x, and by each dy along y:
        ((len(dxs), m), (len(dys), m)) uint64. Moves along x share the rows' resampling and
        moves along y the columns', so each family costs one pass over the pictures plus
        small products."""
        m, height, width = pictures.shape
        dxs, dys = np.asarray(dxs, dtype=float), np.asarray(dys, dtype=float)
        dct = _dct_rows().astype(np.float32)
        pixels = np.asarray(pictures, dtype=np.float32)
        left = dct @ area_matrix(self.y, self.y + self.h, GRAY_SIDE, 0, height).astype(np.float32)  # (8, H)
        right = area_matrix(self.x, self.x + self.w, GRAY_SIDE, 0, width).T.astype(np.float32) @ dct.T  # (W, 8)
        lefts = dct @ area_matrices(self.y + dys, self.y + dys + self.h, GRAY_SIDE, 0, height).astype(np.float32)
        rights = dct @ area_matrices(self.x + dxs, self.x + dxs + self.w, GRAY_SIDE, 0, width).astype(np.float32)
        # rows first, then every x move's columns: (m, 8, W) @ (W, 8 * len(dxs))
        rows_done = (left @ pixels.transpose(1, 0, 2).reshape(height, m * width)).reshape(HASH_SIDE, m, width)
        by_x = rows_done.transpose(1, 0, 2).reshape(m * HASH_SIDE, width) @ rights.reshape(-1, width).T
        by_x = by_x.reshape(m, HASH_SIDE, len(dxs), HASH_SIDE).transpose(2, 0, 1, 3)
        # columns first, then every y move's rows: (8 * len(dys), H) @ (H, m * 8)
        cols_done = (pixels.reshape(m * height, width) @ right).reshape(m, height, HASH_SIDE)
        by_y = lefts.reshape(-1, height) @ cols_done.transpose(1, 0, 2).reshape(height, m * HASH_SIDE)
        by_y = by_y.reshape(len(dys), HASH_SIDE, m, HASH_SIDE).transpose(0, 2, 1, 3)
        cells = HASH_SIDE * HASH_SIDE
        return (_packed_signs(by_x.reshape(len(dxs) * m, cells)).reshape(len(dxs), m),
                _packed_signs(by_y.reshape(len(dys) * m, cells)).reshape(len(dys), m))


def _packed_signs(coefficients: np.ndarray) -> np.ndarray:
    """(n, 64) low DCT coefficients -> (n,) uint64: bit = coefficient above the row's median."""
    # the median of 64 values, from a sort (far faster than np.median's partition per row, and
    # the same number: the mean of the two middle values)
    ordered = np.sort(coefficients, axis=1)
    middle = coefficients.shape[1] // 2
    median = 0.5 * (ordered[:, middle - 1:middle] + ordered[:, middle:middle + 1])
    # bit 0 is the most significant: big-endian packed bytes read as one uint64
    return np.packbits(coefficients > median, axis=1).view(">u8")[:, 0]


def sample_regions(regions: list[Region], pictures: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(m, H, W) pictures -> (r, m, out_h, out_w) float32: each region resized to size (w, h),
    in two matrix products for all of them (Region.sample's numbers, up to float rounding)."""
    m, height, width = pictures.shape
    out_w, out_h = size
    xs, ys, ws, hs = (np.array([getattr(r, name) for r in regions]) for name in "xywh")
    lefts = area_matrices(ys, ys + hs, out_h, 0, height).astype(np.float32)  # (r, out_h, H)
    rights = area_matrices(xs, xs + ws, out_w, 0, width).astype(np.float32)  # (r, out_w, W)
    half = np.asarray(pictures, dtype=np.float32).reshape(m * height, width) @ rights.reshape(-1, width).T
    half = half.reshape(m, height, len(regions), out_w).transpose(2, 1, 0, 3).reshape(len(regions), height, -1)
    return (lefts @ half).reshape(len(regions), out_h, m, out_w).transpose(0, 2, 1, 3)


def _sandwich(pictures: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ picture @ right for every picture, as two large matrix products."""
    m, h, w = pictures.shape
    out_h, out_w = left.shape[0], right.shape[1]
    half = np.asarray(pictures, dtype=np.float32).reshape(m * h, w) @ right  # (m*h, out_w)
    full = left @ half.reshape(m, h, out_w).transpose(1, 0, 2).reshape(h, m * out_w)  # (out_h, m*out_w)
    return full.reshape(out_h, m, out_w).transpose(1, 0, 2)
