"""Labels of segments (Video2GIF section 4.1), from GIFs, alignments and segment boundaries, no pixels.

    segments        shots -> segments; positive / negative / ignored by GIF overlap
    popularity      Khosla et al.'s raw score and its per-source normalisation
    context         the context vector: category, tags, position
    video_jobs      a video's GIFs and alignments joined: trusted spans, unplaced GIFs, context
    segment_labels  a video's label rows: labels from its job's spans, popularity, context, split
"""
