"""`gifrank`: one console script, one subcommand per stage.

Subcommand modules are imported only when called, so `gifrank scrape` never loads
TensorFlow and `gifrank --help` starts instantly.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys

from pipelines import drop_irrelevant

# name -> (module, function taking argv, one-line help)
COMMANDS = {
    "scrape": ("pipelines.scrape", "run", "scrape GIF sites or the Video2GIF metadata into a dataset (Beam)"),
    "align": ("pipelines.commands.align_video", "main", "align GIFs to one video with perceptual hashes (JSON lines)"),
    "align-dataset": ("pipelines.align", "run", "align every GIF of a dataset to its video (Beam)"),
    "shots": ("pipelines.commands.shots", "main", "detect the shots of a video (JSON)"),
    "featurize": ("pipelines.featurize", "run", "shots, labelled segments and C3D features of a dataset (Beam)"),
    "refresh": ("pipelines.refresh", "run", "scrape -> align -> featurize of what is new: a scheduled refresh (Beam)"),
    "tables": ("pipelines.commands.tables", "main", "the dataset's tables (JSON lines), or export one as a Parquet file"),
    "train": ("trainer.task", "main", "train the Robust Deep RankNet on a dataset's labelled segments (TensorFlow)"),
    "evaluate": ("pipelines.commands.evaluate", "main",
                 "nMSD and mAP of a ranker on a dataset's test videos (Beam); --compare: runs as Table 2"),
    "report": ("evaluation.report", "main", "a static HTML report of evaluation runs (table, curves, best GIFs)"),
    "predict": ("pipelines.commands.predict", "main", "the best GIFs of any video, with a trained ranker"),
    "import-ranker": ("trainer.import_weights", "main", "the Video2GIF release's ranker weights as a gifrank export"),
    "demo-site": ("demo_world.site", "main", "serve the demo GIF website on loopback"),
    "demo": ("pipelines.commands.demo", "main", "build the demo world, serve it, and run every stage on it"),
}


def usage() -> str:
    lines = ["usage: gifrank COMMAND [options]   (gifrank COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:12s} {help_}" for name, (_m, _f, help_) in COMMANDS.items()]
    return "\n".join(lines)


def configure_logging() -> None:
    """What a run prints: our INFO lines and progress, warnings from the libraries, none of their noise."""
    # TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) says nothing a user can act on.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # force: importing Beam may already have given the root logger a default handler.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(drop_irrelevant)  # also for what libraries log on loggers of their own
    for noisy in ("apache_beam", "urllib3", "tensorflow", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def report_error(command: str, error: BaseException) -> int:
    """A bad option or a missing input: one line, exit status 2 (argparse's for bad arguments)."""
    print(f"{command}: error: {error}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"gifrank: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    configure_logging()
    module, function, _help = COMMANDS[name]
    try:
        result = getattr(importlib.import_module(module), function)(rest)
    except (ValueError, FileNotFoundError) as exc:
        return report_error(f"gifrank {name}", exc)
    return result if isinstance(result, int) else 0

if __name__ == "__main__":
    sys.exit(main())
