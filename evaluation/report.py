"""A static HTML report of evaluation runs, for a person: it opens from disk, no server.

    gifrank report --eval eval/run1 [eval/random ...] [--names ...] [--job JOB] [--dataset ROOT] --out report/

REPORT/index.html shows the runs' table in the shape of the paper's Table 2, the training
curves from the job's TensorBoard logs, the distribution of per-video nMSD, and (with
--dataset) for a few test videos the first run's top 3 and bottom 3 segments as small GIFs
with their scores, the users' own GIFs beside them, as the paper's Figure 7. Pictures are
files under REPORT/media/, referred to by relative paths.
"""
from __future__ import annotations

import argparse
import html
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evaluation.compare import HEADER, comparison_rows, read_run
from evaluation.findings import Finding, finding_row
from featurizer.dataset.storage import DatasetRoot

THUMB_WIDTH = 160
SAMPLE_VIDEOS = 4


def training_curves(job_dir: str) -> dict[str, tuple[list[int], list[float]]]:
    """Each scalar of the job's TensorBoard logs: tag -> (steps, values)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    source = DatasetRoot.open(job_dir)
    curves: dict[str, tuple[list[int], list[float]]] = {}
    files = [path for path in source.list_files("logs") if ".tfevents." in path]  # full paths
    with tempfile.TemporaryDirectory(prefix="gifrank-report-logs-") as local:
        for path in files:
            local_path = os.path.join(local, posixpath.basename(path))
            with source.fs.open_input_stream(path) as f, open(local_path, "wb") as out:
                out.write(f.read())
        if files:
            events = EventAccumulator(local, size_guidance={"tensors": 0, "scalars": 0})
            events.Reload()
            for tag in events.Tags().get("tensors", []):
                points = events.Tensors(tag)
                curves[tag] = ([p.step for p in points], [float(np.asarray(_value(p)).reshape(-1)[0]) for p in points])
    return curves


def _value(point: Any) -> np.ndarray:
    """A TensorBoard tensor event's value."""
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(point.tensor_proto)


def _plot(path: str, draw: Callable[[list[Any]], None], panels: int = 1) -> None:
    """A PNG of `panels` matplotlib axes side by side, drawn by draw(axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, panels, figsize=(3.4 * panels + 1, 3.2), dpi=100, squeeze=False)
    draw(list(axes[0]))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_curves(curves: dict, path: str) -> None:
    """One panel per scalar (loss, validation accuracy, learning rate), by epoch."""
    def draw(axes: list[Any]) -> None:
        for axis, (tag, (steps, values)) in zip(axes, sorted(curves.items())):
            axis.plot(steps, values, marker=".")
            axis.set_title(tag, fontsize=9)
            axis.set_xlabel("epoch")
    _plot(path, draw, panels=len(curves))


def plot_nmsd(per_run: dict[str, list[float]], path: str) -> None:
    def draw(axes: list[Any]) -> None:
        axis = axes[0]
        bins = np.linspace(0, 1, 21)
        for name, values in per_run.items():
            axis.hist(values, bins=bins, alpha=0.5, label=f"{name} ({len(values)} videos)")
        axis.set_xlabel("nMSD per video (lower is better)")
        axis.set_ylabel("videos")
        axis.legend(fontsize=7)
    _plot(path, draw)


def _table(rows: list[dict], header: dict = HEADER, table_id: str = "metrics") -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for title in header.values())
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row[k]))}</td>" for k in header) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


FINDINGS_HEADER = {"claim": "The paper's finding", "compared": "compared", "difference": "nMSD difference",
                   "p": "p", "verdict": "here"}


def video_strips(dataset: str, per_video: dict[str, dict], media: str, videos: int = SAMPLE_VIDEOS) -> str:
    """Figure 7: for a few videos, the best and worst scored segments as GIFs, and the users' GIFs."""
    from featurizer.dataset import table_store, tables
    from featurizer.dataset.blobs import BlobStore
    from featurizer.gifs.best import segment_frames
    from featurizer.gifs.writer import frame_step, write_gif
    from featurizer.labels.segments import Segment
    from featurizer.media.video import probe_video

    root = DatasetRoot.open(dataset)
    gifs = [r for r in table_store.read_rows(root, tables.GIFS) if r["video_id"] in per_video]
    chosen = sorted({r["video_id"] for r in gifs})
    if chosen:  # spread over the videos
        chosen = [chosen[i] for i in np.linspace(0, len(chosen) - 1, min(videos, len(chosen))).astype(int)]
    blobs, parts = BlobStore(root), []
    for video_id in chosen:
        row, mine = per_video[video_id], [g for g in gifs if g["video_id"] == video_id]
        if not blobs.exists(mine[0]["video_sha256"]):
            parts.append(f'<p class="missing">{html.escape(video_id)}: its video is not in the dataset\'s blobs</p>')
            continue
        order = np.argsort(-np.asarray(row["segment_scores"]), kind="stable").tolist()
        picked = [("top", i) for i in order[:3]] + [("bottom", i) for i in order[-3:][::-1] if i not in order[:3]]
        cells = []
        with blobs.local_path(mine[0]["video_sha256"]) as path:
            fps = probe_video(path).fps
            step = frame_step(fps)
            segments = [Segment(i, *row["segment_bounds"][i]) for _, i in picked]
            frames = segment_frames(path, segments, step)
            for (kind, i), segment in zip(picked, segments):
                name = f"{_safe(video_id)}-{kind}-{i}.gif"
                write_gif(frames[segment.index], fps / step, os.path.join(media, name), max_width=THUMB_WIDTH)
                cells.append(f'<figure class="{kind}"><img src="media/{name}" alt="{kind} segment {i}">'
                             f'<figcaption>{kind} · {row["segment_scores"][i]:.3f}</figcaption></figure>')
        users = []
        for gif in [g for g in mine if blobs.exists(g["gif_sha256"])][:3]:
            name = f"{_safe(video_id)}-user-{_safe(gif['gif_id'])}.gif"
            with blobs.local_path(gif["gif_sha256"]) as path:
                shutil.copyfile(path, os.path.join(media, name))
            users.append(f'<figure class="user"><img src="media/{name}" alt="a user\'s GIF">'
                         f'<figcaption>user GIF</figcaption></figure>')
        parts.append(f'<section class="video"><h3>{html.escape(video_id)} · nMSD {row["nmsd"]:.3f}</h3>'
                     f'<div class="strip">{"".join(cells)}</div><div class="strip">{"".join(users)}</div></section>')
    return "".join(parts)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


STYLE = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:.3em .6em}figure{display:inline-block;margin:.3em}"
         "figcaption{font-size:.8em;text-align:center}.top figcaption{color:#070}.bottom figcaption{color:#a00}")


def write_report(out: str, runs: Sequence[str], names: Sequence[str] | None = None, job_dir: str | None = None,
                 dataset: str | None = None, videos: int = SAMPLE_VIDEOS,
                 findings: Sequence[Finding] | None = None) -> str:
    """Writes OUT/index.html and OUT/media/ (a local folder); returns the page's path. `findings`:
    evaluation.findings' checks of these runs, tabled under the metrics."""
    media = os.path.join(out, "media")
    os.makedirs(media, exist_ok=True)
    rows = comparison_rows(list(runs), list(names) if names else None)
    read = [read_run(uri) for uri in runs]
    sections = [f"<h2>Test videos</h2>{_table(rows)}"
                "<p>nMSD (lower is better) and mAP (higher), means over videos with 95% bootstrap intervals.</p>"]
    if findings:
        sections.append("<h2>The paper's findings here</h2>"
                        + _table([finding_row(f) for f in findings], FINDINGS_HEADER, "findings"))
    plot_nmsd({row["method"]: [r["nmsd"] for r in per_video.values()] for row, (_, per_video) in zip(rows, read)},
              os.path.join(media, "nmsd.png"))
    sections.append('<h2>nMSD per video</h2><img id="nmsd" src="media/nmsd.png" alt="nMSD distribution">')
    if job_dir:
        curves = training_curves(job_dir)
        if curves:
            plot_curves(curves, os.path.join(media, "training.png"))
            sections.append('<h2>Training</h2><img id="training" src="media/training.png" alt="training curves">')
    if dataset and any(r["segment_scores"] for r in read[0][1].values()):  # the upper bound scores no segment
        sections.append(f"<h2>Best and worst segments ({html.escape(rows[0]['method'])})</h2>"
                        + video_strips(dataset, read[0][1], media, videos))
    page = os.path.join(out, "index.html")
    with open(page, "w") as f:
        f.write(f'<!doctype html><html><head><meta charset="utf-8"><title>gifrank report</title>'
                f"<style>{STYLE}</style></head><body><h1>gifrank evaluation</h1>{''.join(sections)}</body></html>")
    return page


def write_run_report(out: str, dataset: str | None = None, model: str | None = None) -> str:
    """OUT/report/index.html for one evaluate run (OUT local or gs://); the job's curves when the
    model is a job's JOB/model. Returns the page's URI."""
    import pyarrow.fs as pafs

    job = None
    if model and posixpath.basename(model.rstrip("/")) == "model":  # JOB/model, not random[:seed]
        parent = posixpath.dirname(model.rstrip("/"))
        job = parent if DatasetRoot.open(parent).exists("logs") else None
    target = DatasetRoot.open(out)
    with tempfile.TemporaryDirectory(prefix="gifrank-report-") as local:
        write_report(local, [out], None, job, dataset)
        if target.fs.type_name == "local":
            target.fs.create_dir(target.join("report"), recursive=True)
        pafs.copy_files(local, target.join("report"), source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=target.fs)
    return target.uri_of("report", "index.html")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gifrank report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", nargs="+", required=True, metavar="RUN", help="gifrank evaluate output folders")
    parser.add_argument("--names", nargs="+", help="a method name per run")
    parser.add_argument("--job", help="the training job (its TensorBoard logs)")
    parser.add_argument("--dataset", help="the dataset evaluated (its videos and GIFs, for the segment strips)")
    parser.add_argument("--videos", type=int, default=SAMPLE_VIDEOS, help="videos in the strips (default: 4)")
    parser.add_argument("--out", required=True, help="a local folder for index.html and media/")
    args = parser.parse_args(argv)
    page = write_report(args.out, args.eval, args.names, args.job, args.dataset, args.videos)
    print(page)
    return 0
