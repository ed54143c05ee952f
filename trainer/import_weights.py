"""The ranker weights published with the Video2GIF code release, as a gifrank export.

    gifrank import-ranker --weights video2gif_weights.npz --job-dir ./v2g-ranker
    python -m trainer.import_weights --weights gs://bucket/video2gif_weights.npz --job-dir gs://bucket/v2g

The release's `video2gif_weights.npz` holds, in `arr_0`, the three dense layers after fc6
as W (in, out) and b: 4096 -> 512 -> 128 -> 1, 2,163,457 numbers, pickled by Python 2
(hence allow_pickle and encoding="bytes"). The result is the same SavedModel (and .keras
file) a training job exports, so RunInference and `gifrank predict` load either alike.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from featurizer.dataset.storage import local_copy

LAYERS = (("hidden_1", (4096, 512)), ("hidden_2", (512, 128)), ("score", (128, 1)))


class WeightsShapeError(ValueError):
    """A weights file whose arrays are not the release's; the message names the layer."""


def read_video2gif_weights(path: str) -> list[np.ndarray]:
    """[W1, b1, W2, b2, W3, b3] as float32, checked against the release's shapes."""
    with local_copy(path) as local, np.load(local, allow_pickle=True, encoding="bytes") as npz:
        if "arr_0" not in npz.files:
            raise WeightsShapeError(f"{path}: no arr_0 (the release stores its parameter list there); "
                                    f"found {', '.join(npz.files) or 'nothing'}")
        params = list(npz["arr_0"])
    if len(params) != 2 * len(LAYERS):
        raise WeightsShapeError(f"{path}: arr_0 holds {len(params)} arrays; the ranker has 6 (W and b of "
                                f"{', '.join(name for name, _ in LAYERS)})")
    arrays = []
    for i, (name, (fan_in, fan_out)) in enumerate(LAYERS):
        kernel, bias = np.asarray(params[2 * i], np.float32), np.asarray(params[2 * i + 1], np.float32)
        if kernel.shape != (fan_in, fan_out):
            raise WeightsShapeError(f"{path}: layer {name}: W is {kernel.shape}, expected {(fan_in, fan_out)}")
        if bias.reshape(-1).shape != (fan_out,):
            raise WeightsShapeError(f"{path}: layer {name}: b is {bias.shape}, expected {(fan_out,)}")
        arrays += [kernel, bias.reshape(fan_out)]
    return arrays


def import_video2gif_weights(weights: str, job_dir: str) -> str:
    """Writes the export under job_dir; returns the model folder's URI."""
    from trainer.export import export_model
    from trainer.job_dir import JobDir
    from trainer.model import Architecture, build_scorer

    arrays = read_video2gif_weights(weights)
    arch = Architecture()
    scorer = build_scorer(arch, seed=0)
    scorer.set_weights(arrays)
    job = JobDir(job_dir)
    job.write_config({"imported_from": weights, "format": "video2gif_weights.npz"})
    export_model(scorer, arch, job)
    job.write_done({"history": [], "imported_from": weights, "model_dir": job.model.uri})
    return job.model.uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gifrank import-ranker", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--weights", required=True, help="video2gif_weights.npz (a path or gs:// URI)")
    parser.add_argument("--job-dir", required=True, dest="job_dir", help="where the export goes (folder or gs://)")
    args = parser.parse_args(argv)
    print(json.dumps({"model_dir": import_video2gif_weights(args.weights, args.job_dir)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
