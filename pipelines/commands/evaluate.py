"""`gifrank evaluate`: the evaluate pipeline, or with --compare, evaluation runs side by side."""
from __future__ import annotations


def main(argv) -> int:
    argv = list(argv)
    if "--compare" in argv:
        from evaluation.compare import main as compare

        return compare(argv)
    from pipelines.evaluate import run

    run(argv)
    return 0
