"""The media and features library, free of Beam: every stage's logic, usable from a notebook.

    media/    reading videos and GIFs: decoding, sniffing, resizing, thread settings, MediaError
    align/    placing a GIF in its video: hashes, the video index, temporal fit, crop search, pixels
    shots/    shot boundaries: frame features and interchangeable detectors
    c3d/      C3D: weights, the network, and the one path from a decoded video to segment features
    labels/   segments of shots, their labels, popularity and context
    dataset/  the dataset layer: storage roots, blobs, table schemas, Delta tables, the training view

Dependencies point one way: media <- align, shots <- c3d, labels; every package may use
dataset, and dataset uses none of them. `trainer` and `evaluation` use dataset (and labels
for context); `pipelines` wraps all of it in Beam transforms.
"""
