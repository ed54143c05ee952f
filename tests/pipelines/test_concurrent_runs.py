"""Runs at once on one dataset, as real `gifrank` processes: two first scrapes, two align-dataset
runs, a scrape beside a featurize. Each run commits, or is refused in one line (exit status 2)
and completes when run again; every table then holds every record once, as after one
uninterrupted run."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from demo_world.replicate import subset_world
from demo_world.site import DemoSite
from demo_world.world import load_world
from featurizer.dataset import table_store, tables
from featurizer.dataset.blobs import BlobStore
from pipelines import align, featurize, scrape
from tests.killing import REPO, contents, differing
from tests.rows import alignment_rows, gif_rows_from_world, write_table

pytestmark = pytest.mark.timeout(600)

REFUSED = re.compile(r"gifrank (?P<command>[a-z-]+): error: table (?P<table>\w+): another run committed buckets? "
                     r"[\d, ]+ since this run (?P<read>found no table|read version \d+) \(now version \d+\); "
                     r"(nothing of this run was committed|this run committed tables? [\w, ]+ and nothing else), "
                     r"nothing is lost: run the command again")
# The CPU's knobs, as `make demo` uses them.
FAST = ["--fps", "12.5", "--snippet-stride", "16", "--no-mirror", "--batch-size", "4"]
TRIES = 3  # runs started together that never overlapped (one finished before the other read) start again


def _scrape_args(site, root, *extra):
    return ["--dataset", str(root), "--seed", f"{site.url}/gifs?page=1", "--site", "demo", "--allow-host",
            "127.0.0.1", "--rate-limit", "0", "--retries", "1", "--timeout", "5", "--concurrency", "2", *extra]


class Run:
    """`gifrank COMMAND ARGS` in a process of its own, its stderr kept in a file."""

    def __init__(self, log_dir: Path, command: str, args: list[str]):
        self.command, self.args = command, args
        self.log = log_dir / f"{command}-{len(list(log_dir.glob(f'{command}-*')))}.log"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
        with open(self.log, "w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", command, *args], cwd=REPO,
                                            env=env, stdout=subprocess.DEVNULL, stderr=err)

    def wait(self) -> int:
        return self.process.wait(timeout=300)

    @property
    def stderr(self) -> str:
        return self.log.read_text()

    def refusal(self) -> re.Match | None:
        """None when the run committed; its one-line error when another run's commit refused it."""
        if self.wait() == 0:
            return None
        lines = self.stderr.strip().splitlines()
        assert self.process.returncode == 2 and "Traceback" not in self.stderr, self.stderr[-4000:]
        refused = REFUSED.fullmatch(lines[-1])
        assert refused and refused["command"] == self.command, self.stderr[-4000:]
        return refused

    def again(self) -> "Run":
        return Run(self.log.parent, self.command, self.args)


def _at_once(log_dir: Path, *commands: tuple[str, list[str]]) -> list[re.Match]:
    """The commands started together; the refused ones run again, and must complete. Returns the refusals."""
    runs = [Run(log_dir, command, args) for command, args in commands]
    refusals = [(run, refused) for run in runs if (refused := run.refusal())]
    for run, _ in refusals:
        rerun = run.again()
        assert rerun.wait() == 0, rerun.stderr[-4000:]
    return [refused for _, refused in refusals]


def _until_one_is_refused(tmp_path, expected: dict, commands, prepare=lambda root: None) -> re.Match:
    """`commands(root)` at once on a new dataset `prepare`d, until one run is refused (runs that did
    not overlap, one committing before the other read, prove nothing); the tables end as `expected`
    each time. Returns the refusal."""
    for attempt in range(TRIES):
        root = tmp_path / f"data{attempt}"
        prepare(root)
        refusals = _at_once(tmp_path, *commands(root))
        _each_record_once(root)
        assert differing(expected, contents(root)) == set()  # the refused run's records too, after its rerun
        if refusals:
            [refused] = refusals  # the first to commit is never refused
            return refused
    pytest.fail(f"the runs never overlapped in {TRIES} tries")


def _each_record_once(root) -> None:
    for name, spec in tables.STORED_TABLES.items():
        keys = [spec.key_of(row) for row in table_store.read_rows(str(root), spec)]
        assert len(keys) == len(set(keys)), f"{name}: {len(keys)} rows, {len(set(keys))} keys"


@pytest.mark.parametrize("second", [[], ["--max-listing-pages", "1"]], ids=["the_same_site", "its_first_page"])
def test_two_first_scrapes_at_once_store_every_gif_once(tiny_world, tmp_path, second):
    with DemoSite(tiny_world.root, page_size=2, latency_ms=50) as site:
        scrape.run(_scrape_args(site, tmp_path / "whole"))
        refused = _until_one_is_refused(tmp_path, contents(tmp_path / "whole"), lambda root: [
            ("scrape", _scrape_args(site, root)), ("scrape", _scrape_args(site, root, *second))])
    # Both read the dataset before either committed: the second to commit found it had read no table.
    assert (refused["table"], refused["read"]) == ("gifs", "found no table")


def test_two_align_runs_at_once_store_every_alignment_once(tiny_world, tmp_path):
    def with_gifs(root):
        write_table(root, tables.GIFS, gif_rows_from_world(tiny_world, BlobStore(str(root))))

    with_gifs(tmp_path / "whole")
    align.run(["--dataset", str(tmp_path / "whole")])
    refused = _until_one_is_refused(tmp_path, contents(tmp_path / "whole"), lambda root: [
        ("align-dataset", ["--dataset", str(root)])] * 2, prepare=with_gifs)
    assert (refused["table"], refused["read"]) == ("alignments", "found no table")


def test_a_scrape_beside_a_featurize_both_commit_as_in_one_order_or_the_other(tiny_world, tmp_path):
    """Different tables: neither is refused. The scrape rewrites the gifs table the featurize reads:
    the featurize's tables end as if it ran before the scrape or after it, whichever version it read."""
    first_video = tiny_world.videos[0]["video_id"]
    world = load_world(subset_world(tiny_world.root, tmp_path / "world",  # one video: a third of the C3D work
                                    [g["gif_id"] for g in tiny_world.gifs if g["video_id"] == first_video]))
    with DemoSite(world.root, page_size=2, latency_ms=50) as site:
        _scrape_beside_featurize(world, site, tmp_path)


def _scrape_beside_featurize(world, site, tmp_path):
    start = tmp_path / "start"
    gifs = gif_rows_from_world(world, BlobStore(str(start)))
    write_table(start, tables.GIFS, gifs)
    write_table(start, tables.ALIGNMENTS, alignment_rows(world, gifs))
    roots = {name: tmp_path / name for name in ("featurize_first", "scrape_first", "data")}
    for root in roots.values():
        shutil.copytree(start, root)
    featurize.run(["--dataset", str(roots["featurize_first"]), *FAST])
    scrape.run(_scrape_args(site, roots["scrape_first"]))
    featurize.run(["--dataset", str(roots["scrape_first"]), *FAST])

    root = roots["data"]
    featurizing = Run(tmp_path, "featurize", ["--dataset", str(root), *FAST])
    scraping = Run(tmp_path, "scrape", _scrape_args(site, root))
    assert scraping.wait() == 0, scraping.stderr[-4000:]
    assert featurizing.process.poll() is None  # the scrape committed while the featurize ran
    assert featurizing.wait() == 0, featurizing.stderr[-4000:]

    _each_record_once(root)
    both = contents(root)
    serial = {name: contents(path) for name, path in roots.items() if name != "data"}
    for name in ("gifs", "alignments"):
        assert both[name].equals(serial["scrape_first"][name]), name
    assert both["gifs"].num_rows == len(world.gifs)
    featurized = ("features", "labels", "deadletter_featurize")
    assert [order for order, tables_of in serial.items()
            if all(both[name].equals(tables_of[name]) for name in featurized)], "as in neither order"
    assert both["features"].num_rows > 0 and both["labels"].num_rows > 0
