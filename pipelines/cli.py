"""`gifrank`: one console script, one subcommand per stage; and how a gifrank process logs and fails.

Subcommand modules are imported only when called, so `gifrank scrape` never loads
TensorFlow and `gifrank --help` starts instantly. Logging is configured by the entry points
only (`gifrank`, `python -m pipelines.<stage>`, the refresh and the Flex Template's programs,
each calling configure_logging once): importing a module changes no logger.
"""
from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from typing import TypeVar

from trainer.logging_setup import configure_logging as configure_trainer_logging

# name -> (module, function taking argv, one-line help)
COMMANDS = {
    "scrape": ("pipelines.scrape", "run", "scrape GIF sites or the Video2GIF metadata into a dataset (Beam)"),
    "align": ("pipelines.commands.align_video", "main", "align GIFs to one video with perceptual hashes (JSON lines)"),
    "align-dataset": ("pipelines.align", "run", "align every GIF of a dataset to its video (Beam)"),
    "shots": ("pipelines.commands.shots", "main", "detect the shots of a video (JSON)"),
    "featurize": ("pipelines.featurize", "run", "shots, labelled segments and C3D features of a dataset (Beam)"),
    "refresh": ("pipelines.refresh", "run", "scrape -> align -> featurize of what is new: a scheduled refresh (Beam)"),
    "tables": ("pipelines.commands.tables", "main",
               "the dataset's tables (JSON lines), or export one as a Parquet file"),
    "train": ("trainer.task", "main", "train the Robust Deep RankNet on a dataset's labelled segments (TensorFlow)"),
    "evaluate": ("pipelines.evaluate", "run", "nMSD and mAP of a ranker on a dataset's test videos (Beam)"),
    "compare": ("evaluation.compare", "main", "evaluation runs side by side, in the shape of the paper's Table 2"),
    "report": ("evaluation.report", "main", "a static HTML report of evaluation runs (table, curves, best GIFs)"),
    "predict": ("pipelines.commands.predict", "main", "the best GIFs of any video, with a trained ranker"),
    "predict-dataset": ("pipelines.predict", "run", "the best GIFs of every video of a dataset, with a trained "
                                                    "ranker (Beam)"),
    "import-ranker": ("trainer.import_weights", "main", "the Video2GIF release's ranker weights as a gifrank export"),
    "demo-site": ("demo_world.site", "main", "serve the demo GIF website on loopback"),
    "demo": ("pipelines.commands.demo", "main", "build the demo world, serve it, and run every stage on it"),
}
# Old spellings still run, with a notice: (command, flag) -> the command that does it now.
DEPRECATED = {("evaluate", "--compare"): "compare", ("predict", "--dataset"): "predict-dataset"}

# Beam's notes about optional extras a run does not use (GCP clients, memory metrics on this
# platform), that no --runner means DirectRunner, and the plumbing of a model shared by a
# machine's processes (RunInference's proxy servers): nothing a user can act on. Some are logged
# as Beam is imported, on the root logger: the filter sits on its handlers, set up before any
# command module is imported.
IRRELEVANT_WARNINGS = ("apitools not found", "Resource module is not available for current platform",
                       "Missing pipeline option (runner)", "Starting proxy server at", "Done starting server",
                       "Connecting to remote proxy at")
E = TypeVar("E", bound=BaseException)
# The logger of Beam's DoFn errors, logged with their traceback before they are re-raised.
BEAM_DOFN_ERRORS = "apache_beam.runners.common"


def usage() -> str:
    lines = ["usage: gifrank COMMAND [options]   (gifrank COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:16s} {help_}" for name, (_m, _f, help_) in COMMANDS.items()]
    return "\n".join(lines)


def drop_irrelevant(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(IRRELEVANT_WARNINGS)


def drop_conflict_traceback(record: logging.LogRecord) -> bool:
    """A refused concurrent commit is no bug: the run reports it in one line (pipelines.stage), without
    the traceback Beam logs for the DoFn that raised it."""
    if record.exc_info is None or record.exc_info[1] is None:
        return True
    # Here only while a pipeline runs, when the dataset layer is loaded: `gifrank --help` stays light.
    from featurizer.dataset.table_store import ConcurrentCommit

    return cause_in(record.exc_info[1], ConcurrentCommit) is None


def configure_logging() -> None:
    """What a run prints: our INFO lines and progress, warnings from the libraries, none of their noise."""
    configure_trainer_logging()  # the format; TensorFlow's chatter left out
    for handler in logging.getLogger().handlers:
        handler.addFilter(drop_irrelevant)  # also for what libraries log on loggers of their own
    logging.getLogger(BEAM_DOFN_ERRORS).addFilter(drop_conflict_traceback)
    for noisy in ("apache_beam", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cause_in(exc: BaseException | None, kind: type[E]) -> E | None:
    """The exception of `kind` behind an exception, as it was raised: through the runner's wrapping
    (Beam re-raises a DoFn's error as a copy with its step's name appended, or as a RuntimeError,
    caused by it), down the chain a traceback shows (not past `raise ... from None`)."""
    seen: set[int] = set()
    found: E | None = None
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            found = exc
        seen.add(id(exc))
        exc = exc.__cause__ if exc.__cause__ is not None or exc.__suppress_context__ else exc.__context__
    return found


def report_error(command: str, error: BaseException) -> int:
    """A bad option or a missing input: one line, exit status 2 (argparse's for bad arguments)."""
    print(f"{command}: error: {error}", file=sys.stderr)
    return 2


def current_name(name: str, rest: Sequence[str]) -> str:
    """The command an old spelling stands for now (with a notice on stderr), else `name`."""
    for (old, flag), new in DEPRECATED.items():
        if name == old and any(a == flag or a.startswith(flag + "=") for a in rest):
            print(f"gifrank {old} {flag} is deprecated: use gifrank {new} ...", file=sys.stderr)
            return new
    return name


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"gifrank: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    name = current_name(name, rest)
    configure_logging()
    module, function, _help = COMMANDS[name]
    try:
        result = getattr(importlib.import_module(module), function)(rest)
    except (ValueError, FileNotFoundError) as exc:
        return report_error(f"gifrank {name}", exc)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
