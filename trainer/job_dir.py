"""A training job's folder, local or gs://: config, checkpoints, TensorBoard logs, the export.

    JOB/config.json                     every flag, the table versions read, the package version
    JOB/checkpoints/model-<m>/epoch-<e>.npz   weights and optimizer state after each epoch
    JOB/logs/                           TensorBoard event files
    JOB/model/                          the SavedModel (serving_default: features[, context] -> score)
    JOB/model.keras                     the same scorer for Keras users
    JOB/done.json                       each epoch's figures; written last, once the job is complete

On Vertex AI, AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and AIP_TENSORBOARD_LOG_DIR win over JOB for
what they name. Everything is written through pyarrow's filesystems (the dataset layer's),
so gs:// job folders work against a GCS emulator too, which TensorFlow's own gs:// cannot:
TensorFlow writes to local disk and the files are copied up.
"""
from __future__ import annotations

import io
import json
import os
import posixpath
import re
from collections.abc import Mapping

import numpy as np
import pyarrow.fs as pafs

from featurizer.dataset.storage import DatasetRoot

CHECKPOINT = re.compile(r"epoch-(\d+)\.npz$")
DONE = "done.json"  # the history; present once the export is complete


class JobDir:
    def __init__(self, job_dir: str, environ: Mapping[str, str] = os.environ):
        self.root = DatasetRoot.open(job_dir)
        self.model = DatasetRoot.open(environ.get("AIP_MODEL_DIR") or self.root.uri_of("model"))
        self.checkpoints = DatasetRoot.open(environ.get("AIP_CHECKPOINT_DIR") or self.root.uri_of("checkpoints"))
        self.logs = DatasetRoot.open(environ.get("AIP_TENSORBOARD_LOG_DIR") or self.root.uri_of("logs"))

    @property
    def keras_file(self) -> DatasetRoot:
        """Beside the SavedModel folder."""
        parent, name = posixpath.split(self.model.uri.rstrip("/"))
        return DatasetRoot.open(posixpath.join(parent, (name or "model") + ".keras"))

    # ---- small files ------------------------------------------------------------------------
    @staticmethod
    def write_bytes(where: DatasetRoot, name: str, data: bytes) -> None:
        path = where.join(name) if name else where.path
        where.make_parent_dir(path)
        with where.fs.open_output_stream(path) as out:
            out.write(data)

    @staticmethod
    def read_bytes(where: DatasetRoot, name: str) -> bytes | None:
        try:
            with where.fs.open_input_stream(where.join(name)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def read_config(self) -> dict | None:
        data = self.read_bytes(self.root, "config.json")
        return json.loads(data) if data is not None else None

    def write_config(self, config: dict) -> None:
        self.write_bytes(self.root, "config.json", json.dumps(config, indent=2, sort_keys=True).encode())

    # ---- checkpoints -------------------------------------------------------------------------
    def latest_checkpoint(self, model: int) -> tuple[int, dict] | None:
        """(epochs done, arrays) of model `model`'s last checkpoint, or None."""
        folder = f"model-{model}"
        epochs = [int(m.group(1)) for p in self.checkpoints.list_files(folder) if (m := CHECKPOINT.search(p))]
        if not epochs:
            return None
        name = posixpath.join(folder, f"epoch-{max(epochs)}.npz")
        data = self.read_bytes(self.checkpoints, name)
        if data is None:  # listed, then gone: another process is clearing the job
            raise FileNotFoundError(self.checkpoints.uri_of(name))
        with np.load(io.BytesIO(data)) as arrays:
            return max(epochs), {k: arrays[k] for k in arrays.files}

    def save_checkpoint(self, model: int, epoch: int, arrays: dict) -> None:
        """Written whole before it is visible: to a temporary name, then renamed (GCS: one object write)."""
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        name = posixpath.join(f"model-{model}", f"epoch-{epoch}.npz")
        if self.checkpoints.fs.type_name == "local":
            temporary = name + ".partial"
            self.write_bytes(self.checkpoints, temporary, buffer.getvalue())
            self.checkpoints.fs.move(self.checkpoints.join(temporary), self.checkpoints.join(name))
        else:
            self.write_bytes(self.checkpoints, name, buffer.getvalue())

    # ---- folders TensorFlow wrote locally ----------------------------------------------------
    @staticmethod
    def upload_tree(local_dir: str, where: DatasetRoot) -> None:
        if where.fs.type_name == "local":
            where.fs.create_dir(where.path, recursive=True)
        pafs.copy_files(local_dir, where.path, source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=where.fs)

    def finished(self) -> bool:
        return self.root.exists(DONE)

    def write_done(self, summary: dict) -> None:
        """Written after the export is complete: a rerun of a finished job does nothing."""
        self.write_bytes(self.root, DONE, json.dumps(summary, indent=2, sort_keys=True).encode())
