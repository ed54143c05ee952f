"""Labels of segments (Video2GIF section 4.1), from GIFs, alignments and segment boundaries, no pixels.

    segments        shots -> segments; positive / negative / ignored by GIF overlap
    popularity      Khosla et al.'s raw score and its per-source normalisation
    context         the context vector: category, tags, position
    segment_labels  a video's label rows: trusted spans, popularity, context, split
"""
