"""Placing a GIF in its source video (Video2GIF section 3), built on featurizer.media.

    aligner        align_gif(index, gif): the whole alignment; ALIGNER names its version
    video_index    index_video(path): one streaming decode -> hashes and thumbnails
    phash          batched DCT perceptual hashes, Hamming distances
    temporal_fit   the robust constant-speed line through hash matches
    playback       forward, reversed, boomerang, ramps: the pieces a GIF plays its span in
    picture_area   the part of a GIF's canvas or a video's frame that shows the picture (bars removed)
    crop_search    cropped GIFs: find the box, re-hash the video there
    regions        sub-pixel rectangles: resampling and hashing what they hold
    pixel_match    refining and verifying a line on pixels (NCC)
    alignment_rows the align stage's unit of work: one video's GIFs (blobs) -> alignments rows

Nothing is imported here, so `featurizer.align.phash` loads without the decoder stack.
"""
