"""Context features: layout and values by hand."""
import hashlib

import numpy as np

from featurizer.labels.context import (CATEGORY_SLOTS, CONTEXT_SIZE, TAG_DIMS, category_one_hot, context_vector,
                                       tag_embedding)


def test_category_one_hot_with_an_other_slot():
    assert category_one_hot("Sports")[4] == 1.0 and category_one_hot("Sports").sum() == 1.0
    assert category_one_hot("Underwater Basket Weaving")[CATEGORY_SLOTS - 1] == 1.0
    assert category_one_hot(None).sum() == 0.0


def test_tag_embedding_is_signed_hashing_normalised():
    digest = hashlib.sha1(b"cat").digest()
    expected = np.zeros(TAG_DIMS, np.float32)
    expected[digest[0] % TAG_DIMS] = 1.0 if digest[1] & 1 else -1.0
    np.testing.assert_array_equal(tag_embedding(["Cat", " cat "]), expected)
    assert abs(np.linalg.norm(tag_embedding(["cat", "dog", "funny"])) - 1.0) < 1e-6
    assert not tag_embedding([]).any()


def test_context_vector_layout():
    vector = context_vector("Music", ["a"], start_sec=90.0, video_duration_sec=180.0, segment_index=7)
    assert vector.shape == (CONTEXT_SIZE,) and vector.dtype == np.float32
    np.testing.assert_allclose(vector[-3:], [1.5, 0.5, 0.07], rtol=1e-6)
