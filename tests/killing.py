"""kill -9 of a real pipeline process at a chosen moment, and tables compared by content."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from featurizer.dataset import table_store, tables

REPO = Path(__file__).resolve().parents[1]
TIME_COLUMNS = ("failed_at", "scraped_at")


def kill_when(module: str, argv: list[str], ready: Callable[[], bool], timeout: float = 600) -> None:
    """Runs `python -m module argv` and kills it with SIGKILL as soon as `ready()` holds.
    Fails if the process ended before that (the kill point was never reached)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", module, *argv], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, f"{module} ended before the kill point"


def table_files(root, name: str, pattern: str = "*.parquet") -> list[Path]:
    folder = Path(root) / "tables" / name
    return sorted(folder.glob(pattern)) if folder.exists() else []


def committed(root, name: str) -> bool:
    return (Path(root) / "tables" / name / "_delta_log" / "00000000000000000000.json").exists()


def contents(root, drop: tuple[str, ...] = TIME_COLUMNS) -> dict:
    """Every stored table's rows, sorted by key, without the columns that differ between equal runs."""
    content = {}
    for name, spec in tables.STORED_TABLES.items():
        table = table_store.read_table(str(root), spec)
        table = table.drop_columns([c for c in drop if c in table.column_names])
        content[name] = table.sort_by([(k, "ascending") for k in spec.key])
    return content


def differing(a: dict, b: dict) -> set[str]:
    return {name for name in a if not a[name].equals(b[name])}
