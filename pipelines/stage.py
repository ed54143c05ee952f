"""How a dataset pipeline is declared and launched, once for every stage.

A pipeline module declares its stage and takes `run` from it:

    STAGE = Stage(name="align", command="gifrank align-dataset", description="...",
                  options=AlignOptions, build=build_pipeline)
    run = STAGE.run                 # run(argv) -> StageRun; what `gifrank align-dataset` calls
    if __name__ == "__main__":
        STAGE.main()                # python -m pipelines.align ...

`build(p, opts, dataset, run_id)` adds the pipeline to `p`. A pipeline that writes tables ends
in the step committing them (pipelines.transforms.table_io.CommitTables), so a run launched
from anywhere commits and a failed run leaves the tables as they were; evaluate and predict
write their outputs under --out instead. Options several stages take are classes of their own
here (`shared_options`): Beam parses every options class in one parser, so a flag is defined
once. `check(opts, dataset)` raises ValueError for options that cannot work, before anything
runs; a root the run cannot write, a run stopped by its storage (a full disk), and a run
refused because another committed to its tables' buckets since it read them, are one-line
errors too (RootNotWritable, StageFailed, table_store.ConcurrentCommit).
A stage whose work comes in bounded runs declares `next_run(opts, last_run)`: the arguments
of one more run, or None when it is done (scrape's --pages-per-run).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, SetupOptions, TestOptions

from featurizer.dataset.storage import DatasetRoot
from featurizer.dataset.table_store import ConcurrentCommit
from pipelines.cli import cause_in, configure_logging, report_error
from pipelines.feature_options import add_feature_arguments
from pipelines.transforms.progress import Progress

LOG = logging.getLogger("gifrank")
BEAM_OPTIONS_EPILOG = ("Standard Beam pipeline options (--runner, --project, --region, --temp_location, "
                       "--setup_file, --direct_num_workers, ...) are accepted too.")


class DatasetOptions(PipelineOptions):
    """Options every dataset pipeline shares, defined once: Beam registers every options class
    in one parser, so two classes defining --dataset would clash."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--dataset", default="./data",
                            help="dataset root: a local folder or gs://bucket/prefix; blobs under ROOT/blobs/, "
                                 "tables under ROOT/tables/ (default: %(default)s)")


class GroundTruthOptions(PipelineOptions):
    """Which GIFs count as where users put them: shared by the stages that label (featurize) and
    score against them (evaluate), defined once for the same reason as DatasetOptions."""

    @classmethod
    def _add_argparse_args(cls, parser):
        from featurizer.labels.video_jobs import DEFAULT_MIN_ALIGNMENT_CONFIDENCE

        parser.add_argument("--min-alignment-confidence", dest="min_alignment_confidence", type=float,
                            default=DEFAULT_MIN_ALIGNMENT_CONFIDENCE,
                            help="a GIF's span comes from its alignment only when at least this confident; the "
                                 "rest count as unaligned (default: %(default)s, from bench.align_accuracy)")


class FeatureSetOptions(PipelineOptions):
    """Which features a stage reads, when the dataset holds several sets (evaluate, predict)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--segmenter", help="the feature set's segmenter, when the dataset holds several")
        parser.add_argument("--feature-extractor", dest="feature_extractor",
                            help="the feature set's extractor, when the dataset holds several")


class FeatureOptions(PipelineOptions):
    """The C3D settings features depend on (pipelines.feature_options), as Beam parses them: featurize's,
    and through it refresh's; predict puts the same flags on its own parser."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add_feature_arguments(parser)


class RankerRunOptions(PipelineOptions):
    """The ranker a stage runs and where its outputs go (evaluate, predict)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--model", help="the exported ranker: JOB/model of gifrank train, or gifrank "
                                             "import-ranker's output (a path or gs:// URI); random[:SEED] for "
                                             "chance level; upper-bound (evaluate only) for the paper's "
                                             "approximate upper bound")
        parser.add_argument("--out", help="where the run's outputs go (a folder or gs:// URI)")


def min_alignment_confidence(opts: PipelineOptions) -> float:
    return opts.view_as(GroundTruthOptions).min_alignment_confidence


@dataclass(frozen=True)
class StageRun:
    """What a finished run reports: its id (in its commits' transaction ids), its dataset, its counters.

    A stage that ran as several bounded runs (Stage.next_run) reports the last run's id, the
    counters summed over them, and each run in `runs`."""

    run_id: str
    dataset: str
    counters: dict[str, int]
    job: Any = None  # DataflowRunner's job, as built (what --dry_run=True builds and does not submit)
    highest: dict[str, int] = field(default_factory=dict)  # each distribution metric's maximum
    runs: tuple[StageRun, ...] = ()


@dataclass(frozen=True)
class Stage:
    name: str  # the pipeline's name: counters under gifrank.<name>, its dead-letter table, its commits
    command: str
    description: str
    options: type[PipelineOptions]
    build: Callable[[beam.Pipeline, Any, str, str], Any]
    check: Callable[[Any, str], Any] | None = None
    shared_options: tuple[type[PipelineOptions], ...] = ()  # option classes several stages take
    writes: str = "dataset"  # where its outputs go: "dataset" (tables under --dataset) or "out" (--out)
    # A stage whose work comes in bounded runs: after a run, the arguments that add the next
    # run (appended to the command's), or None when the stage is done.
    next_run: Callable[[Any, StageRun], list[str] | None] | None = None

    @property
    def namespace(self) -> str:
        return f"gifrank.{self.name}"

    def arg_parser(self) -> argparse.ArgumentParser:
        """`--help` and early errors: the shared dataset options and the stage's own."""
        parser = argparse.ArgumentParser(prog=self.command, description=self.description,
                                         epilog=BEAM_OPTIONS_EPILOG)
        every: tuple[type[PipelineOptions], ...] = (DatasetOptions, *self.shared_options, self.options)
        for options in every:
            # Beam annotates its own parser subclass; the method only calls add_argument.
            options._add_argparse_args(parser)  # type: ignore[arg-type]
        return parser

    def run(self, argv=None, save_main_session: bool = True) -> StageRun:
        """One pipeline run; with `next_run`, as many as it asks for, one after another, each
        committing its own tables (a run killed midway leaves the earlier runs' work)."""
        argv = list(sys.argv[1:] if argv is None else argv)
        first = self._run_once(argv, save_main_session)
        next_run = self.next_run
        runs, extra = [first], next_run and next_run(self._options(argv), first)
        while next_run and extra:
            LOG.info("%s: run %d, %s", self.name, len(runs) + 1, " ".join(extra))
            runs.append(self._run_once([*argv, *extra], save_main_session))
            extra = next_run(self._options(argv), runs[-1])
        if len(runs) == 1:
            return first
        counters: dict[str, int] = {}
        for run in runs:
            for name, value in run.counters.items():
                counters[name] = counters.get(name, 0) + value
        return StageRun(run_id=runs[-1].run_id, dataset=first.dataset, counters=dict(sorted(counters.items())),
                        job=runs[-1].job, highest=runs[-1].highest, runs=tuple(runs))

    def _options(self, argv: list[str]):
        return PipelineOptions(argv).view_as(self.options)

    def _run_once(self, argv: list[str], save_main_session: bool) -> StageRun:
        self.arg_parser().parse_known_args(argv)  # --help, and a clear error for a bad option value
        options = PipelineOptions(argv)
        options.view_as(SetupOptions).save_main_session = save_main_session
        opts, dataset = options.view_as(self.options), options.view_as(DatasetOptions).dataset
        if self.check is not None:
            self.check(opts, dataset)
        run_id = new_run_id()
        LOG.info("%s run %s on %s", self.name, run_id, dataset)
        Progress.reset()
        p = beam.Pipeline(options=options)
        self.build(p, opts, dataset, run_id)  # bad input is found here, before anything is written
        ran = not built_not_run(options)  # a job only built writes nothing and has no metrics
        if ran:
            written = options.view_as(RankerRunOptions).out if self.writes == "out" else dataset
            DatasetRoot.open(written).check_writable()
        try:
            result = p.run()
            result.wait_until_finish()
        except Exception as exc:
            conflict = cause_in(exc, ConcurrentCommit)
            if conflict is not None:  # another run committed first: what it says, not Beam's traceback
                raise ConcurrentCommit(conflict.conflict, conflict.committed) from exc
            cause = cause_in(exc, OSError)
            if cause is None:
                raise  # a bug: its traceback
            # Storage failed (a full disk, a lost permission): tables commit in the last step only.
            raise StageFailed(f"{self.name} failed and nothing was committed: {cause}") from exc
        counters, highest = metrics_of(result, self.namespace) if ran else ({}, {})
        print_counters(self.name, counters)
        return StageRun(run_id=run_id, dataset=dataset, counters=counters, job=getattr(result, "job", None),
                        highest=highest)

    def main(self, argv=None) -> None:
        """`python -m pipelines.<stage>`: the same logging and errors as `gifrank <command>`."""
        configure_logging()
        try:
            self.run(argv)
        except (ValueError, FileNotFoundError) as exc:
            sys.exit(report_error(self.command, exc))


class StageFailed(ValueError):
    """A run stopped by its storage (a full disk, a lost permission); its tables are as they were."""


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def built_not_run(options: PipelineOptions) -> bool:
    """DataflowRunner builds the job and submits nothing (--dry_run=True), or writes it as a template."""
    return bool(options.view_as(TestOptions).dry_run or options.view_as(GoogleCloudOptions).template_location)


def metrics_of(result, namespace: str) -> tuple[dict[str, int], dict[str, int]]:
    """The run's counters of `namespace`, summed over steps, and each distribution's maximum."""
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(namespace))

    def value(metric):
        return metric.committed if metric.committed is not None else metric.attempted

    counters: dict[str, int] = {}
    for counter in query["counters"]:
        counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + (value(counter) or 0)
    highest: dict[str, int] = {}
    for distribution in query["distributions"]:
        if (summary := value(distribution)) is not None and summary.count:
            name = distribution.key.metric.name
            highest[name] = max(highest.get(name, summary.max), summary.max)
    return dict(sorted(counters.items())), dict(sorted(highest.items()))


def print_counters(title: str, counters: dict[str, int], out=None) -> None:
    out = out or sys.stderr  # looked up at call time: sys.stderr may have been replaced since import
    print(f"{title} metrics:", file=out)
    for name, value in counters.items():
        print(f"  {name:40s} {value:>14,d}", file=out)
