"""Benchmark: the features table at scale: a 1% append against a rewrite, streamed reads against pyarrow.

    .venv/bin/python -m bench.table_scale [--rows 200000] [--rows-per-video 100] [--append-share 0.01]
                                          [--repeats 3] [--work DIR] [--out result.json]

A synthetic features table (tables.FEATURES, one file per video as the featurize
pipeline writes it, 16 KB of float32 fc6 a row: random, so it hardly compresses and
200,000 rows are about 3.3 GB) is built through featurizer.dataset.table_store in chunks, one
video at a time in memory, and committed once. Then, side by side in one run:

- append: the new videos' files (append-share of the rows) written and committed as
  adds against the version read, as the pipeline appends. Baseline, rewrite: what a
  table without appends does: every old file read and written again (re-encoded by
  Arrow, never through Python rows) plus the new ones, into a second copy of the table
  (its old files hard links, so the copy costs nothing), committed as one overwrite
  (remove every old file, add every new one). Both report wall time, from reading the
  snapshot to the commit, os.sync() included (so the rewrite's gigabytes are on disk,
  not in the page cache), and bytes written: new data files plus new _delta_log files.
- streaming read of the whole appended table: table_store.iter_batches against pyarrow
  reading the snapshot's files directly (pyarrow.dataset.dataset(paths,
  format="parquet").to_batches(), pyarrow's defaults). Each reader runs in a fresh
  process (this module, --reader), touches every batch (a sum over the features column
  through tables.fixed_size_matrix) and reports its peak RSS while reading (VmHWM,
  reset through /proc/self/clear_refs once imports are done; ru_maxrss where that
  fails), its RSS after imports, and Arrow's peak allocation. The readers alternate,
  --repeats times each, medians reported. Both read warm files (page cache; the table
  fits in RAM and caches are not dropped), so rows/s is decoding, not disk.
- encodings: a sample of the files encoded in memory as table_store writes them (no
  dictionary, byte-stream-split features) and with pyarrow's defaults (see encoding_variants).

Target: append bytes and time a small fraction of the rewrite's; iter_batches peak
RSS under 1 GB.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.proc_memory import status_kib
from bench.report import emit_json

WORK = Path(tempfile.gettempdir()) / "gifrank-bench-tables"
SEED = 20240601
FPS_CHOICES = (23.976, 25.0, 29.97, 30.0)
PEAK_TARGET_BYTES = 1 << 30
READERS = ("iter_batches", "pyarrow_dataset")
MB = 1e6


def video_sha(index: int) -> str:
    return hashlib.sha256(f"gifrank-bench-video-{index}".encode()).hexdigest()


def video_rows(index: int, rows_per_video: int, segmenter: str, extractor: str, seed: int = SEED) -> list[dict]:
    """One synthetic video's feature rows: shot-like segments of 2 to 6 s, 16-frame snippets, random fc6."""
    from featurizer.dataset import tables

    rng = np.random.default_rng([seed, index])
    fps = FPS_CHOICES[index % len(FPS_CHOICES)]
    lengths = rng.integers(int(2 * fps), int(6 * fps), rows_per_video)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    num_frames = int(ends[-1] + rng.integers(0, int(fps)))
    features = rng.random((rows_per_video, tables.C3D_FEATURES), dtype=np.float32) * np.float32(4.0)
    sha = video_sha(index)
    return [{
        "video_sha256": sha, "segmenter": segmenter, "feature_extractor": extractor,
        "segment_index": i, "start_frame": int(s), "end_frame": int(e), "start_sec": float(s / fps),
        "end_sec": float(e / fps), "fps": fps, "video_num_frames": num_frames, "snippets": int((e - s) // 16),
        "features": features[i],
    } for i, (s, e) in enumerate(zip(starts, ends))]


def write_videos(root: str, indices, rows_per_video: int, segmenter: str, extractor: str) -> list:
    """Each video's file, written as the featurize pipeline writes it; only one video in memory at a time."""
    from featurizer.dataset import table_store, tables

    written = []
    for index in indices:
        rows = video_rows(index, rows_per_video, segmenter, extractor)
        name = tables.features_file_name(video_sha(index), segmenter, extractor)
        written.append(table_store.write_named_file(root, tables.FEATURES,
                                                    tables.rows_to_arrow(tables.FEATURES, rows), name))
    return written


def table_dir(root: Path) -> Path:
    from featurizer.dataset import table_store, tables

    return root / table_store.TABLES / tables.FEATURES.name


def log_files(root: Path) -> dict[str, int]:
    log = table_dir(root) / "_delta_log"
    return {p.name: p.stat().st_size for p in log.iterdir() if p.is_file()} if log.exists() else {}


def new_log_bytes(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(size for name, size in after.items() if name not in before)


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(root: Path, n_videos: int, rows_per_video: int, segmenter: str, extractor: str) -> dict:
    from featurizer.dataset import table_store, tables

    start = time.perf_counter()
    files = write_videos(str(root), range(n_videos), rows_per_video, segmenter, extractor)
    written = time.perf_counter()
    version = table_store.commit(str(root), tables.FEATURES, None, files, txn_id="gifrank-bench-build")
    os.sync()
    elapsed = time.perf_counter() - start
    data = sum(f.size for f in files)
    return {"version": version, "files": len(files), "rows": sum(f.rows for f in files), "data_bytes": data,
            "seconds": round(elapsed, 2), "commit_seconds": round(elapsed - (written - start), 2),
            "write_mb_per_sec": round(data / MB / elapsed, 1)}


def hard_link_copy(source: Path, target: Path) -> None:
    """A second table with the same content: data files hard-linked, the log copied (neither timed)."""
    src, dst = table_dir(source), table_dir(target)
    (dst / "_delta_log").mkdir(parents=True)
    for p in src.iterdir():
        if p.is_file():
            os.link(p, dst / p.name)
    for p in (src / "_delta_log").iterdir():
        if p.is_file():
            shutil.copy2(p, dst / "_delta_log" / p.name)


def append(root: Path, new_indices, rows_per_video: int, segmenter: str, extractor: str) -> dict:
    """The pipeline's way: new files, committed as adds against the version read."""
    from featurizer.dataset import table_store, tables

    os.sync()
    log_before = log_files(root)
    start = time.perf_counter()
    read = table_store.snapshot(str(root), tables.FEATURES)
    files = write_videos(str(root), new_indices, rows_per_video, segmenter, extractor)
    version = table_store.commit(str(root), tables.FEATURES, read.version, files, txn_id="gifrank-bench-append")
    buffered = time.perf_counter() - start
    os.sync()
    elapsed = time.perf_counter() - start
    data, log = sum(f.size for f in files), new_log_bytes(log_before, log_files(root))
    return {"read_version": read.version, "version": version, "files_added": len(files), "files_removed": 0,
            "rows_written": sum(f.rows for f in files), "data_bytes": data, "log_bytes": log,
            "bytes_written": data + log, "seconds": round(elapsed, 3), "seconds_before_sync": round(buffered, 3)}


def rewrite(root: Path, new_indices, rows_per_video: int, segmenter: str, extractor: str) -> dict:
    """A table format without appends: every old row written again, plus the new ones, in one overwrite."""
    from featurizer.dataset import table_store, tables

    spec = tables.FEATURES
    os.sync()
    log_before = log_files(root)
    start = time.perf_counter()
    read = table_store.snapshot(str(root), spec)
    rewritten = [table_store.write_named_file(str(root), spec, table_store.read_file(str(root), spec, f.path),
                                              f"r1-{f.path}") for f in read.files]
    files = rewritten + write_videos(str(root), new_indices, rows_per_video, segmenter, extractor)
    version = table_store.commit(str(root), spec, read.version, files, read.files, txn_id="gifrank-bench-rewrite")
    buffered = time.perf_counter() - start
    os.sync()
    elapsed = time.perf_counter() - start
    data, log = sum(f.size for f in files), new_log_bytes(log_before, log_files(root))
    return {"read_version": read.version, "version": version, "files_added": len(files),
            "files_removed": len(read.files), "rows_written": sum(f.rows for f in files), "data_bytes": data,
            "log_bytes": log, "bytes_written": data + log, "seconds": round(elapsed, 3),
            "seconds_before_sync": round(buffered, 3)}


def encoding_variants(paths: list[str]) -> dict:
    """The same files encoded as table_store writes them and with pyarrow's defaults, in memory:
    bytes a row, encode and decode speed.

    pyarrow's writer dictionary-encodes every column by default; 4,096 random float32
    values a row fill the 1 MB dictionary page limit after about 256 K distinct values
    and fall back to plain, so a features column chunk carries a dictionary page, its
    bit-packed indices and then the plain values: more bytes than the raw floats.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from featurizer.dataset import table_store, tables

    others = [n for n in tables.FEATURES.schema.names if n != "features"]

    def parquet(table, **options) -> bytes:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, row_group_size=table_store.ROW_GROUP_ROWS, compression="zstd", **options)
        return sink.getvalue().to_pybytes()

    variants = {
        "table_store.parquet_bytes (no dictionary on features, byte-stream-split)": table_store.parquet_bytes,
        "pyarrow defaults (dictionary on every column)": parquet,
        "use_dictionary=every column but features (plain floats)": lambda t: parquet(t, use_dictionary=others),
    }
    sample = [pq.read_table(p, schema=tables.FEATURES.schema) for p in paths]
    rows = sum(t.num_rows for t in sample)
    report = {"files": len(sample), "rows": rows, "raw_features_bytes_per_row": tables.C3D_FEATURES * 4}
    for name, encode in variants.items():
        start = time.perf_counter()
        encoded = [encode(t) for t in sample]
        encoded_s = time.perf_counter() - start
        decoded_s = float("inf")
        for _ in range(3):  # best of three: the sample decodes in a fraction of a second
            start = time.perf_counter()
            for data in encoded:
                decoded = pq.read_table(pa.BufferReader(data), schema=tables.FEATURES.schema)
                float(tables.fixed_size_matrix(decoded.column("features").combine_chunks()).sum(dtype=np.float32))
            decoded_s = min(decoded_s, time.perf_counter() - start)
        size = sum(len(d) for d in encoded)
        report[name] = {"bytes_per_row": round(size / rows), "encode_rows_per_sec": round(rows / encoded_s),
                        "decode_rows_per_sec": round(rows / decoded_s)}
    return report


# --- readers, each in a fresh process ---------------------------------------------------------------

def _status_kb(field: str) -> int:
    """VmRSS (resident now) or VmHWM (its peak) of this process, in KB."""
    return status_kib().get(field, 0)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reader_main(kind: str, work: Path) -> dict:
    """Runs in the child: streams the table one way, touching every batch; peak memory from the kernel."""
    import deltalake  # noqa: F401  (imported by both readers, so their baselines match)
    import pyarrow as pa
    import pyarrow.dataset as pads

    from featurizer.dataset import table_store, tables

    import_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:  # resets the peak (VmHWM) to the RSS now, so the peak is the read's, not the imports'
        # (ru_maxrss is not reset for sure: it also keeps the peaks seen when threads exit)
        Path("/proc/self/clear_refs").write_text("5")
        peak_reset = True
    except OSError:
        peak_reset = False
    baseline_kb = _status_kb("VmRSS")
    root = str(work / "table")
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    if kind == "iter_batches":
        batches = table_store.iter_batches(root, tables.FEATURES)
    elif kind == "pyarrow_dataset":
        paths = json.loads((work / "paths.json").read_text())
        batches = pads.dataset(paths, format="parquet").to_batches()
    else:
        raise ValueError(kind)
    rows = n_batches = largest = 0
    total = 0.0
    for batch in batches:
        matrix = tables.fixed_size_matrix(batch.column("features"))
        total += float(matrix.sum(dtype=np.float32))
        rows += batch.num_rows
        n_batches += 1
        largest = max(largest, batch.num_rows)
    elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    peak_kb = _status_kb("VmHWM") if peak_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"reader": kind, "rows": rows, "batches": n_batches, "largest_batch_rows": largest,
            "seconds": round(elapsed, 3), "rows_per_sec": round(rows / elapsed, 1), "checksum": total,
            "cores_busy": round(cpu / elapsed, 2),
            "baseline_rss_mb": round(baseline_kb / 1024, 1), "peak_rss_mb": round(peak_kb / 1024, 1),
            "peak_over_baseline_mb": round((peak_kb - baseline_kb) / 1024, 1),
            "peak_reset_after_imports": peak_reset, "import_peak_rss_mb": round(import_peak_kb / 1024, 1),
            "arrow_peak_allocated_mb": round(pa.default_memory_pool().max_memory() / 2**20, 1),
            "arrow_pool": pa.default_memory_pool().backend_name}


def run_reader(kind: str, work: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.table_scale", "--reader", kind, "--work", str(work)],
                         check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(runs: list[dict]) -> dict:
    med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    return {"rows": runs[0]["rows"], "batches": runs[0]["batches"],
            "largest_batch_rows": runs[0]["largest_batch_rows"], "seconds_median": med("seconds"),
            "rows_per_sec_median": round(med("rows_per_sec"), 1),
            "rows_per_sec_runs": [r["rows_per_sec"] for r in runs],
            "cores_busy_median": med("cores_busy"),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs), "baseline_rss_mb_median": med("baseline_rss_mb"),
            "peak_over_baseline_mb_max": max(r["peak_over_baseline_mb"] for r in runs),
            "arrow_peak_allocated_mb_max": max(r["arrow_peak_allocated_mb"] for r in runs),
            "peak_reset_after_imports": all(r["peak_reset_after_imports"] for r in runs),
            "import_peak_rss_mb_max": max(r["import_peak_rss_mb"] for r in runs),
            "arrow_pool": runs[0]["arrow_pool"]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rows-per-video", type=int, default=100)
    parser.add_argument("--append-share", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each reader, alternating")
    parser.add_argument("--encoding-sample", type=int, default=50, help="files re-encoded to compare encodings")
    parser.add_argument("--work", default=str(WORK), help="scratch folder, emptied first")
    parser.add_argument("--out", help="also write the JSON result here")
    parser.add_argument("--reader", choices=READERS, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.reader:
        print(json.dumps(reader_main(args.reader, work)))
        return {}

    from featurizer.dataset import table_store, tables

    began, load_before = time.perf_counter(), os.getloadavg()
    n_videos = max(1, args.rows // args.rows_per_video)
    n_new = max(1, round(n_videos * args.append_share))
    segmenter, extractor = tables.SEGMENTER_VERSION, "c3d-random/fps=native/stride=16/nomirror"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # The table and its rewritten copy: random float32 barely compresses (and dictionary pages add to it).
    need = int(2.8 * (n_videos + n_new) * args.rows_per_video * tables.C3D_FEATURES * 4)
    free = shutil.disk_usage(work).free
    if free < need:
        raise SystemExit(f"{work}: {free / 1e9:.1f} GB free, the benchmark needs about {need / 1e9:.1f} GB")

    main_root, copy_root = work / "table", work / "rewrite"
    built = build(main_root, n_videos, args.rows_per_video, segmenter, extractor)
    hard_link_copy(main_root, copy_root)
    new = range(n_videos, n_videos + n_new)
    appended = append(main_root, new, args.rows_per_video, segmenter, extractor)
    rewritten = rewrite(copy_root, new, args.rows_per_video, segmenter, extractor)
    check = table_store.snapshot(str(copy_root), tables.FEATURES)
    shutil.rmtree(copy_root)  # frees its disk and page cache before the reads

    shot = table_store.snapshot(str(main_root), tables.FEATURES)
    if check.rows != shot.rows or check.rows != (n_videos + n_new) * args.rows_per_video:
        raise SystemExit(f"rows after append {shot.rows}, after rewrite {check.rows}: they should be equal")
    paths = [str(table_dir(main_root) / f.path) for f in shot.files]
    (work / "paths.json").write_text(json.dumps(paths))
    runs: dict[str, list[dict]] = {kind: [] for kind in READERS}
    for repeat in range(args.repeats):
        for kind in (READERS if repeat % 2 == 0 else READERS[::-1]):  # alternating, so no reader always goes first
            runs[kind].append(run_reader(kind, work))
    sums = [r["checksum"] for rs in runs.values() for r in rs]
    if any(r["rows"] != shot.rows for rs in runs.values() for r in rs) or \
            max(sums) - min(sums) > 1e-6 * abs(max(sums)):
        raise SystemExit(f"readers disagree: {runs}")
    reads = {kind: summarize(rs) for kind, rs in runs.items()}
    encodings = encoding_variants(paths[:args.encoding_sample])
    ours, direct = reads["iter_batches"], reads["pyarrow_dataset"]

    report = {
        "rows": built["rows"], "rows_per_video": args.rows_per_video, "files": built["files"],
        "row_bytes_raw": tables.C3D_FEATURES * 4,
        "table_bytes_on_disk": tree_bytes(table_dir(main_root)), "table_data_bytes": shot.bytes,
        "build": built,
        "append": appended, "rewrite": rewritten,
        "append_over_rewrite": {
            "seconds": round(appended["seconds"] / rewritten["seconds"], 4),
            "bytes_written": round(appended["bytes_written"] / rewritten["bytes_written"], 4),
        },
        "read": {"iter_batches": ours, "pyarrow_dataset": direct,
                 "direct_reader": "pyarrow.dataset.dataset(snapshot file paths, format='parquet').to_batches(), "
                                  "pyarrow defaults (batch_size 131072, batch_readahead 16, fragment_readahead 4)",
                 "iter_batches_over_pyarrow_rows_per_sec": round(
                     ours["rows_per_sec_median"] / direct["rows_per_sec_median"], 3),
                 "iter_batches_peak_rss_under_1gb": ours["peak_rss_mb_max"] * 2**20 < PEAK_TARGET_BYTES,
                 "files_warm": True},
        "features_encoding": encodings,
        "total_seconds": round(time.perf_counter() - began, 1),
        "cores": os.cpu_count(),
        "load_average_1_5_15_before_after": [[round(x, 2) for x in load_before],
                                             [round(x, 2) for x in os.getloadavg()]],
        "target": "append a small fraction of the rewrite in time and bytes; iter_batches peak RSS < 1 GB",
    }
    shutil.rmtree(work, ignore_errors=True)
    emit_json(report, args.out)
    return report


if __name__ == "__main__":
    main()
