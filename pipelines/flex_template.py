"""The program the Flex Template launcher runs (FLEX_TEMPLATE_PYTHON_PY_FILE in infra/*.Dockerfile):
one image, one template per command.

    python pipelines/flex_template.py --command=refresh --dataset=gs://b/v2g ...
    python pipelines/flex_template.py --command=evaluate --model=gs://b/jobs/run1/model ...

The launcher passes a template's parameters as --name=value; --command (default refresh)
picks the gifrank command, and the rest are its options and Beam's.
"""
from __future__ import annotations

import argparse
import sys

# Commands a template may run: the pipelines that launch Dataflow jobs.
COMMANDS = {"refresh": "pipelines.refresh", "evaluate": "pipelines.evaluate", "predict": "pipelines.predict",
            "scrape": "pipelines.scrape", "align": "pipelines.align", "featurize": "pipelines.featurize"}


def split_command(argv: list[str]) -> tuple[str, list[str]]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--command", default="refresh", choices=sorted(COMMANDS))
    known, rest = parser.parse_known_args(argv)
    return known.command, rest


def main(argv: list[str] | None = None) -> int:
    import importlib

    from pipelines.cli import configure_logging, report_error

    command, rest = split_command(list(sys.argv[1:] if argv is None else argv))
    configure_logging()
    try:
        importlib.import_module(COMMANDS[command]).run(rest)
    except (ValueError, FileNotFoundError) as exc:
        return report_error(f"gifrank {command} (flex template)", exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
