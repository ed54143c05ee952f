"""Failure records, free of Beam: what failed (its subjects) and why, as deadletter rows."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from featurizer.dataset.tables import DEADLETTER

MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class Failed:
    """A record that failed: `subjects` are the records it stands for (a video failing fails all its GIFs)."""

    subjects: tuple[dict, ...]
    error: BaseException


def subject(url: str | None = None, gif_id: str | None = None) -> dict:
    return {"url": url, "gif_id": gif_id}


def is_bad_input(error: BaseException) -> bool:
    """Our errors about a record itself (unreadable media, a 404, a page that does not parse) carry a
    `kind`: those become dead letters. Anything else (storage errors, MemoryError, bugs) is not the
    record's fault: it is raised, so the runner retries it, and a job that keeps failing leaves the
    tables as they were."""
    return isinstance(getattr(error, "kind", None), str)


def error_kind(error: BaseException) -> str:
    """Our errors carry a stable `kind`; anything else is named by its class."""
    return getattr(error, "kind", None) or type(error).__name__


def rows_for(pipeline: str, stage: str, subjects: Iterable[dict], kind: str, message: str,
             now: dt.datetime | None = None) -> list[dict]:
    now = now or dt.datetime.now(dt.timezone.utc)
    return [DEADLETTER.conform({
        "pipeline": pipeline, "stage": stage,
        "record_key": s.get("record_key") or s.get("gif_id") or s.get("url") or "",
        "url": s.get("url"), "gif_id": s.get("gif_id"),
        "error_kind": kind, "message": message[:MAX_MESSAGE_CHARS], "failed_at": now,
    }) for s in subjects]
