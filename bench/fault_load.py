"""Benchmark: the scrape at scale with faults, on DirectRunner in multi_processing mode.

    .venv/bin/python -m bench.fault_load [--pages 10000] [--small-pages 2500] [--fault-share 0.05] [--out F]

A demo site of --pages GIF pages (the tiny world's media under new ids), of which
--fault-share carry an injected fault, every kind in turn (page: 404, 500, redirect loop,
wrong type, too slow, a byte a second, a gzip bomb, a megabyte-long GIF URL; media:
truncated, wrong type, oversized, redirect to a metadata address, a byte a second, a gzip
bomb; and a 500 once, retried to success, and a 23-digit view count, stored with the views
nulled), and every listing page carries 10,000 more links to its own GIFs (with fragments).
The scrape runs as `python -m pipelines.scrape --direct_running_mode multi_processing
--direct_num_workers 2`. Reported: whether every GIF
is accounted for (gifs rows + GIF-level dead letters = pages) and per kind (dead letters of
each kind = faults of that kind injected); what a rerun fetched again of what had succeeded
(GIF pages and media: it must be nothing); and the peak resident memory at --small-pages and
at --pages, side by side (it must stay flat), of the runner's own process, of its biggest SDK
worker and of the whole process tree. The site's GIFs come from videos of their own, 1.4 GIFs
to a video as in the paper's dataset, so work grouped by video grows with the input as on a
real site.

The scrape runs in bounded runs, --pages-per-run (default: half of --small-pages, so that
both sizes also run on a dataset that has tables, as a refresh does; 0: one run).

Measured (2 cores, 10,000 and 2,500 pages, 5% faults, 16 kinds, 10,000 more links on every
listing page): every GIF accounted for at both sizes (10,000 = 9,562 rows + 438 dead letters),
each of the 14 dead-letter kinds exactly as injected (31 or 32 each at 10,000; timeout and
too_large twice that, from two kinds each), the 31 flaky pages retried to success and the 31
23-digit view counts stored as null, nothing that succeeded fetched again by the rerun, 151 KB
of stderr. Peak RSS, 2,500 -> 10,000 pages, --pages-per-run 1250 (default): runner 304 -> 333
MiB (1.09x), biggest worker 310 -> 352 (1.13x), tree 863 -> 947 (1.10x); 380 s in 9 runs (each
reads the 200 listing pages of 10,050 links again; the drips take two 2 s deadlines), rerun
49 s. Before the hostile kinds (9 kinds, plain listings): runner 255 -> 278 MiB (1.09x),
biggest worker 260 -> 286 (1.10x), tree 738 -> 813 (1.10x); 168 s in 9 runs, rerun 20 s;
--pages-per-run 0 (one run): runner 226 -> 322 MiB (1.43x), biggest worker 247 -> 294
(1.19x), tree 685 -> 851 (1.24x); 48 s, rerun 20 s. In one run, memory grows about 13 KB a GIF
in the runner and 6 KB in a worker: DirectRunner
keeps each stage's output in memory for the next stage, and in multi_processing mode splits a
stage's input into one bundle per worker (fn_runner's ParallelBundleManager). Python objects
are a small part of it (tracemalloc: 106 MiB in the runner at its peak, about 20 MiB of it the
stages' data); the rest is gRPC's buffers and the allocator's arenas (MALLOC_ARENA_MAX=2 took
the runner from 307 to 262 MiB; it still grew). Bounded runs take that away. What is left
grows with the dataset each run reads, not with the pages it reads: at --pages-per-run 1250
on 10,000 pages the workers' peak went 264, 267, 276, 275, 274, 280, 283 MiB over runs 2-8
(the runner's 256 -> 271) as the gifs table grew by 1,250 rows a run: about 2.5 KB a stored
GIF (the index of known pages and blobs, every bucket rewritten). With that index as side
inputs, as before pipelines.scraping.known, it was 5 KB (264 -> 294 MiB; the runner's 259 ->
318).
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.proc_memory import status_kib
from bench.report import emit_json
from demo_world.replicate import replicate_world
from demo_world.site import DemoSite
from demo_world.world import WorldConfig, build_world
from featurizer.dataset import table_store, table_views, tables

CACHE = Path(tempfile.gettempdir()) / "gifrank-bench-world"
REPO = Path(__file__).resolve().parents[1]
GIFS_PER_VIDEO = 120 / 85  # the paper's dataset: 120K GIFs from 85K videos
GIF_LEVEL_STAGES = {"gif_page", "gif_media", "video_media"}
# (where, fault spec, the dead letter's kind; None: retried to success)
FAULTS = (
    ("page", "404", "http_404"), ("page", "500", "http_500"), ("page", "redirect_loop", "redirect_loop"),
    ("page", "wrong_type", "wrong_content_type"), ("page", "slow:2500", "timeout"),
    ("media", "truncate", "truncated"), ("media", "wrong_type", "not_a_gif"), ("media", "oversized", "too_large"),
    ("media", "redirect:http://169.254.169.254/latest/meta-data/", "blocked_address"),
    ("page", "drip:1000", "timeout"), ("page", "gzip_bomb:20", "too_large"),
    ("page", "long_url:1000000", "url_too_long"),
    ("media", "drip:1000", "timeout"), ("media", "gzip_bomb:80", "too_large"),
    # stored in spite of the fault: retried to success, the views nulled
    ("page", "flaky500:1", None), ("page", "huge_views", None),
)
LISTING_FAULT = "many_links:10000"
DEADLINE_SEC = 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--small-pages", type=int, default=2_500, help="the smaller input, for peak memory")
    parser.add_argument("--fault-share", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pages-per-run", type=int,
                        help="the scrape's --pages-per-run (default: half of --small-pages, so that both sizes "
                             "run on a dataset that has tables; 0: every page in one pipeline run)")
    parser.add_argument("--out")
    return parser.parse_args(argv)


def inject(site: DemoSite, gifs: list[dict], share: float) -> dict[str, tuple[str, str | None, str]]:
    """Faults on every 1/share-th GIF, the kinds in turn: {gif_id: (stage, dead-letter kind, fault)}."""
    every = max(1, round(1 / share))
    site.set_fault("/gifs", LISTING_FAULT)
    injected = {}
    for n, gif in enumerate(gifs[::every]):
        where, spec, kind = FAULTS[n % len(FAULTS)]
        path = site.gif_page_path(gif["gif_id"]) if where == "page" else site.gif_media_path(gif["gif_id"])
        site.set_fault(path, spec)
        injected[gif["gif_id"]] = ("gif_page" if where == "page" else "gif_media", kind, spec)
    return injected


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue  # ended meanwhile
            children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    return children


def _tree(pid: int) -> list[int]:
    children, tree, todo = _children(), [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children[tree[-1]]
    return tree


def _memory_kib(pid: int) -> dict:
    """VmHWM (the process's peak resident memory so far) and VmRSS, KiB, and whether it is a Beam
    SDK worker; {} once it has ended."""
    try:
        status = status_kib(pid)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return {}
    return {"hwm": status.get("VmHWM", 0), "rss": status.get("VmRSS", 0), "worker": b"sdk_worker_main" in cmdline}


def scrape_process(site: DemoSite, dataset: Path, workers: int, pages_per_run: int, timeout: float = 1800) -> dict:
    """One scrape in a process of its own: its wall time and peak resident memory, of the runner's
    own process (Beam's runner: it holds the data between stages), of its biggest SDK worker
    (where gifrank's transforms run), and of the whole process tree at once."""
    argv = [sys.executable, "-m", "pipelines.scrape", "--dataset", str(dataset), "--seed", f"{site.url}/gifs?page=1",
            "--site", "demo", "--allow-host", "127.0.0.1", "--rate-limit", "0", "--concurrency", "16",
            "--timeout", "1", "--page-deadline", str(DEADLINE_SEC), "--media-deadline", str(DEADLINE_SEC),
            "--retries", "1", "--retry-backoff", "0.05", "--max-media-bytes", str(8 * 2**20),
            "--direct_running_mode", "multi_processing", "--direct_num_workers", str(workers),
            "--pages-per-run", str(pages_per_run)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    # stderr to a file, not a pipe: a pipe nobody reads fills up (64 KiB of log lines) and the
    # run blocks writing to it (what hung the first 10,000-page run, after its commit)
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
    # Each process's VmHWM, read while it runs (it only grows), and the sum of the tree's VmRSS.
    peak_hwm: dict[int, tuple[bool, int]] = {}
    peak_tree = 0
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise TimeoutError(f"the scrape did not end within {timeout:.0f} s (its tables: {dataset})")
        now = {p: m for p in _tree(process.pid) if (m := _memory_kib(p))}
        peak_tree = max(peak_tree, sum(m["rss"] for m in now.values()))
        for p, m in now.items():
            peak_hwm[p] = (m["worker"], max(m["hwm"], peak_hwm.get(p, (False, 0))[1]))
        time.sleep(0.2)
    log.seek(0)
    stderr = log.read().decode(errors="replace")
    log.close()
    if status:
        raise RuntimeError(f"scrape failed ({status}):\n{stderr[-3000:]}")
    workers_hwm = [kib for is_worker, kib in peak_hwm.values() if is_worker]
    return {"seconds": time.monotonic() - started,
            "peak_rss_mib": usage.ru_maxrss / 1024,  # the biggest process of the tree (wait4)
            "runner_peak_rss_mib": peak_hwm.get(process.pid, (False, 0))[1] / 1024,
            "worker_peak_rss_mib": max(workers_hwm, default=0) / 1024,
            "tree_peak_rss_mib": peak_tree / 1024,
            "stderr_bytes": len(stderr)}  # megabyte-long URLs must not reach the log


def accounting(dataset: Path, gifs: list[dict], injected: dict) -> dict:
    rows = table_store.read_rows(str(dataset), tables.GIFS)
    dead = [d for d in table_views.read_view_rows(str(dataset), tables.DEADLETTER)
            if d["pipeline"] == "scrape" and d["stage"] in GIF_LEVEL_STAGES]
    dead_gifs = {}
    for d in dead:
        native = (d["gif_id"] or d["url"]).rsplit("/", 1)[-1].removeprefix("demo:")
        dead_gifs[native] = (d["stage"], d["error_kind"])
    views = {r["gif_id"].removeprefix("demo:"): r["views"] for r in rows}
    stored = set(views)
    expected = {g: (stage, kind) for g, (stage, kind, _spec) in injected.items() if kind is not None}
    by_kind_expected = collections.Counter(expected.values())
    by_kind_found = collections.Counter(dead_gifs.values())
    return {"gifs": len(gifs), "rows": len(stored), "dead_letters": len(dead_gifs),
            "every_gif_accounted": len(stored) + len(dead_gifs) == len(gifs) and not stored & set(dead_gifs),
            "per_kind_as_injected": by_kind_found == by_kind_expected and dead_gifs == expected,
            "per_kind": {f"{s}/{k}": n for (s, k), n in sorted(by_kind_found.items())},
            "stored_despite_fault": dict(collections.Counter(
                spec for g, (_stage, kind, spec) in injected.items() if kind is None and g in stored)),
            "views_nulled": sum(1 for g, (_stage, _kind, spec) in injected.items()
                                if spec == "huge_views" and g in stored and views[g] is None),
            "stored": sorted(stored)}


def run(args) -> dict:
    if args.pages_per_run is None:
        args.pages_per_run = args.small_pages // 2
    world = build_world(CACHE, WorldConfig.tiny())
    report = {"pages": args.pages, "small_pages": args.small_pages, "fault_share": args.fault_share,
              "workers": args.workers, "pages_per_run": args.pages_per_run, "runs": {}}
    with tempfile.TemporaryDirectory(prefix="gifrank-bench-faults-") as work:
        for pages in (args.small_pages, args.pages):
            wide = replicate_world(world.root, Path(work) / f"world-{pages}", pages, GIFS_PER_VIDEO)
            gifs = [{"gif_id": f"r{i:06d}"} for i in range(pages)]
            dataset = Path(work) / f"data-{pages}"
            with DemoSite(wide, page_size=50) as site:
                injected = inject(site, gifs, args.fault_share)
                first = scrape_process(site, dataset, args.workers, args.pages_per_run)
                counts = accounting(dataset, gifs, injected)
                succeeded = [p for g in counts.pop("stored")
                             for p in (site.gif_page_path(g), site.gif_media_path(g))]
                before = sum(site.request_count(p) for p in succeeded)
                again = scrape_process(site, dataset, args.workers, args.pages_per_run)
                refetched = sum(site.request_count(p) for p in succeeded) - before
            report["runs"][pages] = {**counts, "first": first, "rerun": again,
                                     "faults_injected": len(injected), "refetched_after_success": refetched}
    small, large = report["runs"][args.small_pages], report["runs"][args.pages]
    report["peak_rss_ratio_large_to_small"] = {
        what: large["first"][f"{what}_mib"] / small["first"][f"{what}_mib"]
        for what in ("peak_rss", "runner_peak_rss", "worker_peak_rss", "tree_peak_rss")}
    return report


def main(argv=None):
    args = parse_args(argv)
    emit_json(run(args), args.out)


if __name__ == "__main__":
    main()
