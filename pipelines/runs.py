"""Launching a dataset pipeline: a run id, the run itself (which commits its own tables), its counters."""
from __future__ import annotations

import datetime as dt
import logging
import sys
import uuid
from typing import Callable

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from pipelines.workers import Progress

LOG = logging.getLogger("gifrank")


class DatasetOptions(PipelineOptions):
    """Options every dataset pipeline shares, defined once: Beam registers every options class
    in one parser, so two classes defining --dataset would clash."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--dataset", default="./data",
                            help="dataset root: a local folder or gs://bucket/prefix; blobs under ROOT/blobs/, "
                                 "tables under ROOT/tables/ (default: %(default)s)")


def stage_arg_parser(prog: str, description: str, stage_options: type[PipelineOptions]):
    """`--help` and early errors for a stage: the shared dataset options and the stage's own."""
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog, description=description,
        epilog="Standard Beam pipeline options (--runner, --project, --region, --temp_location, "
               "--setup_file, --direct_num_workers, ...) are accepted too.")
    DatasetOptions._add_argparse_args(parser)
    stage_options._add_argparse_args(parser)
    return parser


def parse_stage_options(argv, parser, stage_options: type[PipelineOptions], save_main_session: bool = True):
    """(all pipeline options, the stage's view, the shared DatasetOptions view) from a command line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser.parse_known_args(argv)  # --help, and a clear error for a bad option value
    options = PipelineOptions(argv)
    options.view_as(SetupOptions).save_main_session = save_main_session
    return options, options.view_as(stage_options), options.view_as(DatasetOptions)


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def counters_of(result, namespace: str) -> dict[str, int]:
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(namespace))
    totals: dict[str, int] = {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + (value or 0)
    return dict(sorted(totals.items()))


def print_counters(title: str, counters: dict[str, int], out=sys.stderr) -> None:
    print(f"{title} metrics:", file=out)
    for name, value in counters.items():
        print(f"  {name:40s} {value:>14,d}", file=out)


def run_pipeline(options: PipelineOptions, build: Callable[[beam.Pipeline, str], None], dataset: str,
                 pipeline_name: str) -> tuple[str, dict[str, int]]:
    """Builds and runs the pipeline: (run id, counters).

    The pipeline commits its tables itself, in its last step (pipelines.table_io.CommitTables),
    so a run launched from anywhere commits, and a failed run leaves the tables as they were.
    """
    run_id = new_run_id()
    LOG.info("%s run %s on %s", pipeline_name, run_id, dataset)
    Progress.reset()
    p = beam.Pipeline(options=options)
    build(p, run_id)
    result = p.run()
    result.wait_until_finish()
    counters = counters_of(result, f"gifrank.{pipeline_name}")
    print_counters(pipeline_name, counters)
    return run_id, counters
