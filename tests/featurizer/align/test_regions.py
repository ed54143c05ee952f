"""featurizer.align.regions: batched resampling and hashing of rectangles agree with one-at-a-time."""
import cv2
import numpy as np
from scipy.fft import dct

from featurizer.align.regions import Region, area_matrix, sample_regions


def _dct_hash(gray32):
    """imagehash.phash's definition on an unrounded 32x32 picture: 2-D DCT-II (scipy, unnormalised),
    the 8x8 lowest frequencies, a bit per coefficient above their median, row-major, first bit on top."""
    low = dct(dct(np.asarray(gray32, np.float64), axis=0), axis=1)[:8, :8].ravel()
    return int("".join("1" if c > np.median(low) else "0" for c in low), 2)


def _pictures(count=40, seed=3):
    """Smooth random thumbnails (upscaled noise), so hashes are not at the edge of flipping."""
    coarse = np.random.default_rng(seed).integers(0, 256, (count, 9, 16)).astype(np.float32)
    return np.stack([cv2.resize(c, (64, 36), interpolation=cv2.INTER_LINEAR) for c in coarse]).astype(np.uint8)


def test_area_matrix_by_hand():
    # [0.5, 3.0) into 2 cells of 1.25 px: cell 0 covers 0.5 of px 0 and 0.75 of px 1, cell 1 the rest
    np.testing.assert_allclose(area_matrix(0.5, 3.0, 2, 0, 4), [[0.4, 0.6, 0, 0], [0, 0.2, 0.8, 0]])


def test_whole_frame_region_hash_is_the_phash_of_the_unrounded_area_resize():
    # phash_frames rounds the 32x32 resize to uint8 like imagehash; a region's hash skips that rounding
    pictures = _pictures()
    gray32 = np.stack([cv2.resize(p.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA) for p in pictures])
    assert Region.whole(36, 64).hashes(pictures).tolist() == [_dct_hash(g) for g in gray32]


def test_sample_regions_equals_sampling_each_region():
    pictures = _pictures(12)
    regions = [Region(3.3, 2.1, 40.5, 22.7), Region(0, 0, 64, 36), Region(10.25, 7.5, 20, 11.25)]
    batched = sample_regions(regions, pictures, (41, 23))
    for region, samples in zip(regions, batched):
        np.testing.assert_allclose(samples, region.sample(pictures, (41, 23)), atol=1e-3)


def test_shifted_hashes_equal_hashing_each_shifted_region():
    pictures = _pictures()
    region = Region(12.3, 5.2, 30.5, 17.4)
    dxs, dys = [-3.0, -1.5, 1.0, 4.25], [-2.0, 1.0, 3.5]
    by_x, by_y = region.shifted_hashes(pictures, dxs, dys)
    for dx, hashes in zip(dxs, by_x):
        np.testing.assert_array_equal(hashes, Region(region.x + dx, region.y, region.w, region.h).hashes(pictures))
    for dy, hashes in zip(dys, by_y):
        np.testing.assert_array_equal(hashes, Region(region.x, region.y + dy, region.w, region.h).hashes(pictures))
    empty_x, empty_y = region.shifted_hashes(pictures, [], [])
    assert empty_x.shape == empty_y.shape == (0, len(pictures))
