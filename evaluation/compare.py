"""Evaluation runs side by side, in the shape of the paper's Table 2:

    gifrank compare eval/random eval/l2 eval/adaptive-huber [--names ...] [--out DIR]

    | Method         | nMSD ↓                  | mAP ↑                   | videos | nMSD vs first (p)  |
    | random         | 50.12% [48.9, 51.3]     | ...

Each RUN is an evaluate output folder (metrics.json, per_video.parquet), local or gs://.
The last column compares each run's per-video nMSD with the first run's on the videos both
scored (mean difference and a paired Wilcoxon test): intervals alone hide that two methods
were scored on the same videos. Written as compare.md and compare.csv when --out is given.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import posixpath
from collections.abc import Sequence

import pyarrow.parquet as pq

from evaluation.intervals import format_estimate, paired_comparison
from featurizer.dataset.storage import DatasetRoot


def read_run(uri: str) -> tuple[dict, dict[str, dict]]:
    """(metrics.json, {video_id: per-video row}) of an evaluate output folder."""
    where = DatasetRoot.open(uri)
    try:
        with where.fs.open_input_stream(where.join("metrics.json")) as f:
            metrics = json.loads(f.read())
        with where.fs.open_input_file(where.join("per_video.parquet")) as f:
            rows = pq.read_table(f).to_pylist()
    except FileNotFoundError:
        raise FileNotFoundError(f"{uri}: not an evaluate output (metrics.json and per_video.parquet)") from None
    return metrics, {r["video_id"]: r for r in rows}


def comparison_rows(runs: list[str], names: list[str] | None = None) -> list[dict]:
    if names and len(names) != len(runs):
        raise ValueError(f"{len(names)} --names for {len(runs)} runs")
    read = [read_run(uri) for uri in runs]
    first = {v: r["nmsd"] for v, r in read[0][1].items()}
    rows = []
    for i, (uri, (metrics, per_video)) in enumerate(zip(runs, read)):
        row = {"method": names[i] if names else metrics.get("method") or posixpath.basename(uri.rstrip("/")),
               "nmsd": format_estimate(metrics["nmsd"], percent=True),
               "map": format_estimate(metrics["map"], percent=True), "videos": metrics["videos"],
               "vs_first": ""}
        if i and per_video and first:
            paired = paired_comparison({v: r["nmsd"] for v, r in per_video.items()}, first)
            row["vs_first"] = (f"{100 * paired.difference.mean:+.2f} pts (p = {paired.p_value:.3g}, "
                               f"{paired.videos} videos)")
        rows.append(row)
    return rows


HEADER = {"method": "Method", "nmsd": "nMSD ↓", "map": "mAP ↑", "videos": "videos", "vs_first": "nMSD vs first"}


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(HEADER.values()) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(str(r[k]) for k in HEADER) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(HEADER))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gifrank compare", description=__doc__.split("\n\n")[0],
                                     usage="%(prog)s RUN [RUN ...] [--names NAME ...] [--out DIR]")
    parser.add_argument("runs", nargs="*", metavar="RUN", help="evaluate output folders (local or gs://)")
    # The old spelling, gifrank evaluate --compare RUN ...: its runs are runs too.
    parser.add_argument("--compare", nargs="+", default=[], metavar="RUN", help=argparse.SUPPRESS)
    parser.add_argument("--names", nargs="+", help="a method name per run (default: the run's folder name)")
    parser.add_argument("--out", help="a folder for compare.md and compare.csv")
    args = parser.parse_args(argv)
    runs = [*args.runs, *args.compare]
    if not runs:
        parser.error("give at least one RUN (an evaluate output folder)")
    rows = comparison_rows(runs, args.names)
    table = markdown(rows)
    print(table, end="")
    if args.out:
        where = DatasetRoot.open(args.out)
        where.make_parent_dir(where.join("compare.md"))
        for name, text in (("compare.md", table), ("compare.csv", csv_text(rows))):
            with where.fs.open_output_stream(where.join(name)) as out:
                out.write(text.encode())
    return 0
