"""resize_frames: one OpenCV call for a stack of frames, equal to resizing each frame."""
import cv2
import numpy as np
import pytest

from featurizer.media.area_resize import resize_frames


@pytest.mark.parametrize("shape,size", [
    ((48, 36, 64), (32, 32)),    # video thumbnails to the hash's 32x32
    ((20, 180, 320), (64, 36)),  # GIF frames to thumbnails (whole factor)
    ((20, 97, 173), (64, 36)),   # fractional factors both ways
    ((7, 200, 150), (36, 48)),   # portrait
    ((5, 20, 30), (64, 36)),     # enlarging: frame by frame
    ((3, 36, 64), (64, 36)),     # same size
])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_equals_resizing_frame_by_frame(shape, size, dtype):
    frames = np.random.default_rng(sum(shape)).integers(0, 256, shape).astype(dtype)
    expected = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    resized = resize_frames(frames, size)
    assert resized.dtype == dtype and resized.shape == (shape[0], size[1], size[0])
    np.testing.assert_array_equal(resized, expected)


def test_no_frames():
    assert resize_frames(np.zeros((0, 10, 10), np.uint8), (4, 3)).shape == (0, 3, 4)
