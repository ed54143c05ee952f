"""`gifrank refresh`: scrape -> align -> featurize of what is new since the last run, as a
scheduled dataset refresh runs it.

    gifrank refresh --dataset ./data --seed http://127.0.0.1:8000/gifs?page=1 --site demo --allow-host 127.0.0.1
    gifrank refresh --dataset gs://b/v2g --v2g-metadata gs://b/metadata.txt --runner DataflowRunner \\
        --project P --region R --temp_location gs://b/tmp \\
        --c3d-accelerator "type:nvidia-l4;count:1;install-nvidia-driver"

Each stage is its own Beam pipeline (its own Dataflow job), started when the one before has
committed its tables, and takes the options of all three (`gifrank scrape --help`,
`gifrank align-dataset --help`, `gifrank featurize --help`). Every stage skips what the
tables already hold: scrape reads only GIF pages the gifs table has not got and fetches
only blobs not stored; align aligns only GIFs without an alignment from the same bytes;
featurize decodes only videos without features (labels, cheap, are remade). So a daily
run touches the new GIFs and videos, and a run with nothing new does no media work.

A refresh killed anywhere and rerun ends with the dataset an uninterrupted run makes: each
stage commits its tables in one step, and a rerun redoes exactly what no commit holds.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import align, featurize, scrape
from pipelines.cli import configure_logging, report_error
from pipelines.stage import BEAM_OPTIONS_EPILOG, DatasetOptions, StageRun

LOG = logging.getLogger("gifrank")
STAGES = (scrape.STAGE, align.STAGE, featurize.STAGE)


def arg_parser() -> argparse.ArgumentParser:
    """Every stage's options in one parser, each options class once: --help, and bad values early."""
    parser = argparse.ArgumentParser(prog="gifrank refresh", description=__doc__.strip().splitlines()[0],
                                     epilog=BEAM_OPTIONS_EPILOG)
    classes: list[type[PipelineOptions]] = [DatasetOptions]
    for stage in STAGES:
        classes += [c for c in (*stage.shared_options, stage.options) if c not in classes]
    for options in classes:
        # Beam annotates its own parser subclass; the method only calls add_argument.
        options._add_argparse_args(parser)  # type: ignore[arg-type]
    return parser


def run(argv=None, save_main_session: bool = True) -> list[StageRun]:
    argv = list(sys.argv[1:] if argv is None else argv)
    arg_parser().parse_known_args(argv)
    runs = []
    for stage in STAGES:
        started = time.monotonic()
        LOG.info("refresh: %s", stage.command)
        runs.append(stage.run(argv, save_main_session=save_main_session))
        LOG.info("refresh: %s done in %.1f s", stage.name, time.monotonic() - started)
    return runs


def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.refresh`: the same logging and errors as `gifrank refresh`."""
    configure_logging()
    try:
        run(argv)
    except (ValueError, FileNotFoundError) as exc:
        return report_error("gifrank refresh", exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
