"""Shot boundary detection (Video2GIF section 4.1: shots by multiple change-point detection).

    detect_shots(path) -> Shots(fps, num_frames, shots=[(start, end_exclusive), ...],
                                seconds=[(start_sec, end_sec), ...], variable_frame_rate)

Seconds come from the decoder's timestamps, never frame / fps, so they hold at variable frame rates.

features: per-frame colour histograms and luma thumbnails; detectors: algorithms over those
features, behind the ShotDetector protocol; driver: one driver feeding any detector from frame
batches, window by window (detect_in_frames); video_source: the video backend, one decode of a
file that featurize's decode shares (decode_frames), and detect_shots(path).
"""
from featurizer.shots.detectors import DETECTORS, ChangePointDetector, KernelSegmentationDetector, ShotDetector
from featurizer.shots.driver import Shots, detect_in_frames, detect_in_windows, shot_frames, shots_from_boundaries
from featurizer.shots.features import FrameFeatures, frame_features
from featurizer.shots.video_source import DecodedFrames, decode_frames, detect_shots

__all__ = [
    "DETECTORS", "ChangePointDetector", "DecodedFrames", "FrameFeatures", "KernelSegmentationDetector",
    "ShotDetector", "Shots", "decode_frames", "detect_in_frames", "detect_in_windows", "detect_shots",
    "frame_features", "shot_frames", "shots_from_boundaries",
]
