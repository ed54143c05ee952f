"""`gifrank demo` / `make demo`: the main job on the embedded default world.

Builds (or reuses) the demo world under DATA/world, serves it as a GIF website on
loopback, and runs every stage built so far on it with DirectRunner: scrape, align,
featurize (C3D on the CPU with random weights unless --c3d-weights is given, with
the CPU knobs --fps and --no-mirror), then trains the ranker on the labelled segments,
scores its validation videos, evaluates it beside random scores and the approximate upper
bound on the test videos (nMSD, mAP, the paper's findings these runs can check, a report
page), and turns one video into its best GIFs (gifrank predict). Prints a numbered line as
each stage starts and ends (the stages' own progress lines between them), then where the
results are, the figures, the predicted GIFs and each stage's time.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import os
import sys

from demo_world.site import DemoSite
from demo_world.world import WorldConfig, build_world
from featurizer.dataset import table_store, table_views, tables
from featurizer.dataset.blobs import BlobStore
from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.training_view import training_batches
from pipelines import align, featurize, scrape
from pipelines.commands.stage_clock import StageClock

# One GIF page is listed under /private/, which robots.txt forbids: the run shows a
# robots refusal in its dead letters instead of fetching it.
PRIVATE_GIFS = 1
# Page and media URLs include the site's port; the same port on every run keeps them, and
# so the rows' keys and the blobs stored for them, the same from one demo run to the next.
DEMO_PORT = 8765
# A quarter of the videos each in val and test: 12 and 14 of the 48 (the split is a hash of
# the video id), so that both the validation figure and the test comparison with random mean
# something. Measured: val 0.635 [0.505, 0.768] over 11 videos; test nMSD 32.1% [26.5, 37.5]
# vs random's 52.0% [43.5, 60.5], p = 0.0017 (with 0.5,0.4,0.1: val 0.678 [0.595, 0.770],
# but 4 test videos).
DEMO_SPLIT = "0.5,0.25,0.25"
DEMO_VIDEOS = 48


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gifrank demo", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--data", default="./data", help="dataset root (default: %(default)s)")
    parser.add_argument("--world", help="where the demo world is built and cached (default: DATA/world)")
    parser.add_argument("--videos", type=int, default=DEMO_VIDEOS,
                        help="source videos in the world (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=WorldConfig().seed, help="world seed (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEMO_PORT,
                        help="port of the demo site; a fixed one keeps URLs, so reruns reuse stored blobs "
                             "(default: %(default)s)")
    parser.add_argument("--c3d-weights", help="C3D weights for featurize (default: random, c3d-random)")
    parser.add_argument("--c3d-mean", help="the snippet mean that goes with --c3d-weights")
    parser.add_argument("--c3d-fps", default="8",
                        help="featurize --fps: frames per second C3D sees; the CPU's knob (default: %(default)s)")
    parser.add_argument("--train-epochs", type=int, default=25, help="gifrank train --epochs (default: %(default)s)")
    return parser


STAGES = ("world", "scrape", "align", "featurize", "train", "evaluate", "report", "predict")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    clock = StageClock(STAGES)
    _drop_tables_of_old_layout(args.data)
    world_root = args.world or os.path.join(args.data, "world")
    with clock.stage("world"):
        world = build_world(world_root, WorldConfig(seed=args.seed, num_videos=args.videos))
    private = [g["gif_id"] for g in world.gifs[:PRIVATE_GIFS]]
    with clock.stage("scrape"), _start_site(world.root, private, args.port) as site:
        print(f"demo site serving {len(world.gifs)} GIFs from {len(world.videos)} videos at {site.url}",
              file=sys.stderr)
        scrape.run([
            "--seed", f"{site.url}/gifs?page=1", "--site", "demo", "--dataset", args.data,
            "--allow-host", "127.0.0.1", "--rate-limit", "200", "--runner", "DirectRunner",
        ])
    with clock.stage("align"):
        align.run(["--dataset", args.data, "--runner", "DirectRunner"])
    weights = ["--c3d-weights", args.c3d_weights, "--c3d-mean", args.c3d_mean] if args.c3d_weights else []
    # C3D on a 2-core CPU is the slow part: fewer frames, non-overlapping snippets, no mirror.
    featurize_args = ["--dataset", args.data, "--fps", args.c3d_fps, "--snippet-stride", "16", "--no-mirror",
                      "--split-ratios", DEMO_SPLIT, *weights, "--runner", "DirectRunner"]
    with clock.stage("featurize"):
        featurize.run(featurize_args)
    feature_set = featurize.feature_set_of(featurize_args)
    with clock.stage("train"):
        ranker = train(args.data, feature_set, args.train_epochs)
    with clock.stage("evaluate"):
        runs = evaluate_on_test(args.data, feature_set, ranker["job_dir"])
    with clock.stage("report"):
        table = report(args.data, ranker["job_dir"], runs)
    with clock.stage("predict"):
        table["predicted"] = predict_one(args.data, world, ranker["job_dir"], args)
    print_summary(args.data, world_root, feature_set, ranker, table)
    print(f"stages:      {clock.summary()}")
    return 0


def predict_one(data: str, world, job_dir: str, args) -> dict:
    """gifrank predict on the world's first video, with the demo's C3D settings: its best 3 GIFs."""
    from evaluation.baselines import open_scorer
    from featurizer.c3d import load_c3d_extractor
    from featurizer.c3d.video_features import FeatureSettings, VideoFeaturizer
    from pipelines.commands.predict import predict_video

    settings = FeatureSettings(fps=float(args.c3d_fps), stride=16, mirror=False, max_video_sec=None)
    featurizer = VideoFeaturizer(load_c3d_extractor(args.c3d_weights, args.c3d_mean), settings)
    video = str(world.video_path(world.videos[0]["video_id"]))
    return predict_video(video, featurizer, open_scorer(f"{job_dir}/model"), 3,
                         DatasetRoot.open(data).uri_of("predictions"))


def train(data: str, feature_set: tuple[str, str], epochs: int) -> dict:
    """Trains the ranker on the demo's labelled segments; its figures on val (per video, with an interval)."""
    from evaluation.intervals import bootstrap_interval
    from trainer.pairwise import pooled, video_pairwise_accuracies
    from trainer.scoring import KerasScorer
    from trainer.task import config_from
    from trainer.training import Trainer

    segmenter, extractor = feature_set
    root = DatasetRoot.open(data)
    versions = "-".join(f"{spec.name}{table_store.snapshot(root, spec).version}" for spec in (tables.LABELS,
                                                                                                tables.FEATURES))
    argv = ["--dataset", data, "--segmenter", segmenter, "--feature-extractor", extractor, "--epochs", str(epochs),
            "--progress", "log",
            "--standardize"]  # C3D with random weights: fc6 neither at Sports-1M's scale nor calibrated
    # The same tables and flags: the same job, trained once; anything else: a job of its own.
    flags = hashlib.sha256(" ".join(argv).encode()).hexdigest()[:8]
    job_dir = root.uri_of("jobs", f"demo-{versions}-{flags}")
    trainer = Trainer(config_from([*argv, "--job-dir", job_dir]))
    trainer.run()
    import keras

    scorer = KerasScorer(keras.saving.load_model(trainer.job.keras_file.uri), trainer.job.keras_file.uri)
    per_video = video_pairwise_accuracies(lambda v: scorer.score(v.features, v.context), trainer.source.videos("val"))
    accuracy, pairs = pooled(per_video)
    return {"job_dir": job_dir, "val_pairwise_accuracy": accuracy, "val_pairs": pairs, "val_videos": len(per_video),
            "interval": bootstrap_interval(per_video, seed=0)}


def evaluate_on_test(data: str, feature_set: tuple[str, str], job_dir: str) -> dict[str, str]:
    """gifrank evaluate of the trained ranker, of random scores and of the approximate upper bound
    on the test videos -> {METHODS key: the run's folder}."""
    from pipelines import evaluate

    segmenter, extractor = feature_set
    root = DatasetRoot.open(data)
    runs = {"adaptive_huber": (f"{job_dir}/model", root.uri_of("evaluations", os.path.basename(job_dir))),
            "random": ("random:0", root.uri_of("evaluations", "random")),
            "upper_bound": ("upper-bound", root.uri_of("evaluations", "upper-bound"))}
    for model, out in runs.values():
        evaluate.run(["--dataset", data, "--model", model, "--out", out, "--split", "test", "--segmenter", segmenter,
                      "--feature-extractor", extractor, "--runner", "DirectRunner"])
    return {key: out for key, (_, out) in runs.items()}


def report(data: str, job_dir: str, runs: dict[str, str]) -> dict:
    """The evaluation runs side by side (gifrank compare), the paper's findings that
    they can check (evaluation.findings), and the report page."""
    from evaluation.compare import comparison_rows, markdown, read_run
    from evaluation.findings import METHODS, check_findings
    from evaluation.findings import markdown as findings_markdown
    from evaluation.report import write_report

    outs, names = list(runs.values()), [METHODS[key] for key in runs]
    findings = check_findings({key: {v: r["nmsd"] for v, r in read_run(out)[1].items()} for key, out in runs.items()})
    page = write_report(DatasetRoot.open(data).uri_of("evaluations", "report"), outs, names, job_dir, data,
                        findings=findings)
    return {"table": markdown(comparison_rows(outs, names)), "findings": findings_markdown(findings),
            "runs": dict(zip(names, outs)), "report": page}


def _drop_tables_of_old_layout(data: str) -> None:
    """A demo dataset made before tables were Delta tables: its tables are remade (blobs and world kept)."""
    root = DatasetRoot.open(data)
    try:
        for spec in tables.STORED_TABLES.values():
            table_store.snapshot(root, spec)
    except table_store.TableError as exc:
        print(f"{exc}: remaking the demo's tables under {root.uri_of(table_store.TABLES)}", file=sys.stderr)
        root.delete_tree(table_store.TABLES)


def _start_site(world_root, private_gif_ids, port: int) -> DemoSite:
    try:
        return DemoSite(world_root, port=port, private_gif_ids=private_gif_ids).start()
    except OSError as exc:
        print(f"port {port} is taken ({exc}); serving on a free port, so this run fetches every blob again",
              file=sys.stderr)
        return DemoSite(world_root, port=0, private_gif_ids=private_gif_ids).start()


def print_summary(data: str, world_root: str, feature_set: tuple[str, str] | None = None, ranker: dict | None = None,
                  evaluation: dict | None = None, out=None) -> None:
    """Where the results are; the training view of `feature_set` (segmenter, extractor; default: the only one)."""
    out = out or sys.stdout
    root = DatasetRoot.open(data)
    gifs = table_store.read_table(root, tables.GIFS, columns=["video_id"])
    dead = table_views.read_view_table(root, tables.DEADLETTER, columns=["pipeline", "stage", "error_kind"]).to_pylist()
    segmenter, extractor = feature_set or (None, None)
    labelled = table_store.read_table(root, tables.LABELS, columns=["segmenter", "label"]).to_pylist()
    labels = [r["label"] for r in labelled if segmenter in (None, r["segmenter"])]
    features = table_store.read_table(root, tables.FEATURES, columns=["feature_extractor", "snippets"])
    training = sum(b.num_rows for b in training_batches(root, extractor, segmenter))
    reasons = collections.Counter((d["pipeline"], d["stage"], d["error_kind"]) for d in dead)
    counts = collections.Counter(labels)

    def table_line(title: str, spec, unit: str = "rows") -> str:
        info = table_store.table_info(root, spec)
        return (f"{title:12s} {info['rows']:6d} {unit}   version {info['version']}   "
                f"{root.uri_of(table_store.TABLES, spec.name)}")

    print("\n== gifrank demo: results ==", file=out)
    print(f"world (videos, GIFs, truth):   {os.path.abspath(world_root)}", file=out)
    print(table_line("gifs table:", tables.GIFS), file=out)
    print(table_line("alignments:", tables.ALIGNMENTS), file=out)
    print(table_line("features:", tables.FEATURES, "segments"), file=out)
    print(f"    feature sets: {', '.join(sorted(set(features.column('feature_extractor').to_pylist())))}", file=out)
    print(table_line("labels:", tables.LABELS), file=out)
    print(f"    {segmenter or 'all'}: positive {counts[1]}, negative {counts[0]}, ignored {counts[-1]}", file=out)
    choice = f" --segmenter '{segmenter}' --feature-extractor '{extractor}'" if feature_set else ""
    print(f"training view: {training:4d} segments with features\n"
          f"    gifrank tables --dataset {data} --export segments --out segments.parquet{choice}", file=out)
    print(f"deadletters: {len(dead):6d} rows   {root.uri_of(table_store.TABLES, tables.DEADLETTER_PREFIX + '*')}",
          file=out)
    for (pipeline, stage, kind), n in sorted(reasons.items()):
        print(f"    {pipeline}/{stage}/{kind}: {n}", file=out)
    print(f"blobs:       {BlobStore(root).count():6d} files  {root.uri_of('blobs')}", file=out)
    print(f"videos:      {len(set(gifs.column('video_id').to_pylist())):6d} with GIFs", file=out)
    print(f"every table: gifrank tables --dataset {data}", file=out)
    if ranker:
        interval = ranker["interval"]
        figure = "n/a" if ranker["val_pairwise_accuracy"] is None else f"{ranker['val_pairwise_accuracy']:.3f}"
        span = f", 95% interval over videos [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
        print(f"ranker:      val pairwise accuracy {figure} ({ranker['val_pairs']} pairs, "
              f"{ranker['val_videos']} videos{span}; random is 0.5)\n"
              f"    {ranker['job_dir']}/model (SavedModel), model.keras, logs/ (TensorBoard)", file=out)
    if evaluation:
        print("test videos (gifrank evaluate; nMSD lower is better, mAP higher):", file=out)
        for table in (evaluation["table"], evaluation["findings"]):
            print("    " + table.rstrip("\n").replace("\n", "\n    "), file=out)
        for name, where in evaluation["runs"].items():
            print(f"    {name}: {where}/metrics.json, per_video.parquet", file=out)
        print(f"report:      {evaluation['report']} (open it in a browser)", file=out)
        predicted = evaluation.get("predicted")
        if predicted:
            spans = ", ".join(f"{g['start_sec']:.1f}-{g['end_sec']:.1f} s (loop jump {g['loop_jump']:.3f} vs "
                              f"{g['naive_loop_jump']:.3f})" for g in predicted["gifs"])
            print(f"predicted:   {len(predicted['gifs'])} GIFs of {os.path.basename(predicted['video'])}: {spans}\n"
                  f"    {predicted['folder']}/ (gif-1.gif ..., predictions.json)", file=out)
