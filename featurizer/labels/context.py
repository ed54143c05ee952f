"""Context features of a segment, optional as in the paper: category, tags, position.

Layout of the vector (CONTEXT_SIZE floats):
  [0:16)   category one-hot over YOUTUBE_CATEGORIES (+ a last slot for any other category)
  [16:48)  tags: signed feature hashing of the video's tags into 32 dims, L2-normalised
  [48]     segment start in minutes
  [49]     relative position: segment start / video duration, in [0, 1]
  [50]     segment index / 100
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

YOUTUBE_CATEGORIES = (
    "Film & Animation", "Autos & Vehicles", "Music", "Pets & Animals", "Sports", "Travel & Events",
    "Gaming", "People & Blogs", "Comedy", "Entertainment", "News & Politics", "Howto & Style",
    "Education", "Science & Technology", "Nonprofits & Activism",
)
CATEGORY_SLOTS = len(YOUTUBE_CATEGORIES) + 1
TAG_DIMS = 32
CONTEXT_SIZE = CATEGORY_SLOTS + TAG_DIMS + 3


def category_one_hot(category: str | None) -> np.ndarray:
    vector = np.zeros(CATEGORY_SLOTS, np.float32)
    if category:
        slot = YOUTUBE_CATEGORIES.index(category) if category in YOUTUBE_CATEGORIES else CATEGORY_SLOTS - 1
        vector[slot] = 1.0
    return vector


def tag_embedding(tags: Iterable[str]) -> np.ndarray:
    """Signed feature hashing: stable across processes (sha1, not hash()), order-free."""
    vector = np.zeros(TAG_DIMS, np.float32)
    for tag in sorted({t.strip().lower() for t in tags if t and t.strip()}):
        digest = hashlib.sha1(tag.encode()).digest()
        vector[digest[0] % TAG_DIMS] += 1.0 if digest[1] & 1 else -1.0
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def context_vector(category: str | None, tags: Iterable[str], start_sec: float, video_duration_sec: float,
                   segment_index: int) -> np.ndarray:
    position = np.array([start_sec / 60.0, start_sec / video_duration_sec if video_duration_sec > 0 else 0.0,
                         segment_index / 100.0], np.float32)
    return np.concatenate([category_one_hot(category), tag_embedding(tags), position])
