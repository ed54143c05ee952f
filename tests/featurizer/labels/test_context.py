"""Context features: layout and values by hand (sizes and slots from context.py's docstring, not its constants)."""
import hashlib

import numpy as np

from featurizer.labels.context import category_one_hot, context_vector, tag_embedding

# [0:16) category: YouTube's 15 categories, then slot 15 for any other; [16:48) tags; [48:51) position.
CATEGORY_SLOTS, TAG_DIMS, CONTEXT_SIZE = 16, 32, 16 + 32 + 3


def _signed_hash(tags):
    """Signed feature hashing, from the definition: each distinct lowercased, stripped tag adds +1 at
    slot sha1[0] % 32 when sha1[1] is odd, -1 when even; the sum is scaled to unit length."""
    vector = np.zeros(TAG_DIMS)
    for tag in {t.strip().lower() for t in tags if t.strip()}:
        digest = hashlib.sha1(tag.encode()).digest()
        vector[digest[0] % TAG_DIMS] += 1 if digest[1] % 2 else -1
    return vector / np.linalg.norm(vector) if vector.any() else vector


def test_category_one_hot_with_an_other_slot():
    # YouTube's order: 0 Film & Animation, 1 Autos & Vehicles, 2 Music, 3 Pets & Animals, 4 Sports, ...,
    # 14 Nonprofits & Activism; 15 is "other".
    for category, slot in (("Film & Animation", 0), ("Sports", 4), ("Nonprofits & Activism", 14),
                           ("Underwater Basket Weaving", 15)):
        expected = np.zeros(CATEGORY_SLOTS)
        expected[slot] = 1.0
        np.testing.assert_array_equal(category_one_hot(category), expected, err_msg=category)
    np.testing.assert_array_equal(category_one_hot(None), np.zeros(CATEGORY_SLOTS))


def test_tag_embedding_is_signed_hashing_normalised():
    digest = hashlib.sha1(b"cat").digest()
    expected = np.zeros(TAG_DIMS, np.float32)
    expected[digest[0] % TAG_DIMS] = 1.0 if digest[1] & 1 else -1.0
    np.testing.assert_array_equal(tag_embedding(["Cat", " cat "]), expected)
    tags = ["cat", "dog", "funny", "Dog", "fail", "lol", "wow"]
    np.testing.assert_allclose(tag_embedding(tags), _signed_hash(tags), atol=1e-6)
    assert abs(np.linalg.norm(tag_embedding(tags)) - 1.0) < 1e-6
    assert not tag_embedding([]).any()


def test_context_vector_layout():
    vector = context_vector("Music", ["a"], start_sec=90.0, video_duration_sec=180.0, segment_index=7)
    assert vector.shape == (CONTEXT_SIZE,) and vector.dtype == np.float32
    category = np.zeros(CATEGORY_SLOTS)
    category[2] = 1.0  # Music is YouTube's third category
    np.testing.assert_array_equal(vector[:16], category)
    np.testing.assert_allclose(vector[16:48], _signed_hash(["a"]), atol=1e-6)
    # 90 s = 1.5 min; 90 s of 180 s = 0.5; segment 7 / 100 = 0.07
    np.testing.assert_allclose(vector[48:], [1.5, 0.5, 0.07], rtol=1e-6)
    # no duration: the relative position is 0
    np.testing.assert_allclose(context_vector(None, [], 30.0, 0.0, 0)[48:], [0.5, 0.0, 0.0])
