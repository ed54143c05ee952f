"""Shot boundary detection (Video2GIF section 4.1: shots by multiple change-point detection).

    detect_shots(path) -> Shots(fps, num_frames, shots=[(start, end_exclusive), ...])

features: per-frame colour histograms and luma thumbnails; detectors: algorithms over
those features, behind the ShotDetector protocol; stream: decoding and windowing.
"""
from featurizer.shots.detectors import DETECTORS, ChangePointDetector, KernelSegmentationDetector, ShotDetector
from featurizer.shots.features import FrameFeatures, frame_features
from featurizer.shots.stream import Shots, detect_in_windows, detect_shots, shots_from_boundaries, video_features

__all__ = [
    "DETECTORS", "ChangePointDetector", "FrameFeatures", "KernelSegmentationDetector", "ShotDetector", "Shots",
    "detect_in_windows", "detect_shots", "frame_features", "shots_from_boundaries", "video_features",
]
