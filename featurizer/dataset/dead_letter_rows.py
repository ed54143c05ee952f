"""Failure records, free of Beam: what failed (its subjects) and why, as deadletter rows."""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from featurizer.dataset.tables import DEADLETTER
from featurizer.dataset.value_bounds import MAX_URL_CHARS

MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class Failed:
    """A record that failed: `subjects` are the records it stands for (a video failing fails all its GIFs)."""

    subjects: tuple[dict, ...]
    error: BaseException


def subject(url: str | None = None, gif_id: str | None = None, record_key: str | None = None) -> dict:
    """What a dead letter is about; its key is record_key, else gif_id, else url."""
    return {"url": url, "gif_id": gif_id, "record_key": record_key}


def is_bad_input(error: BaseException) -> bool:
    """Our errors about a record itself (unreadable media, a 404, a page that does not parse) carry a
    `kind`: those become dead letters. Anything else (storage errors, MemoryError, bugs) is not the
    record's fault: it is raised, so the runner retries it, and a job that keeps failing leaves the
    tables as they were."""
    return isinstance(getattr(error, "kind", None), str)


def error_kind(error: BaseException) -> str:
    """Why a record failed: its error's stable `kind`, a reason a person can act on (never a class
    name: an error without a kind is no record's fault, and fails the run instead)."""
    kind = getattr(error, "kind", None)
    if not isinstance(kind, str):
        raise TypeError(f"not a record's failure (no kind): {type(error).__name__}: {error}")
    return kind


def clipped(value: str | None, limit: int = MAX_URL_CHARS) -> str | None:
    """A value a dead letter can hold: a hostile megabyte-long URL is kept as its start and a hash
    of the whole, so two such values still differ."""
    if value is None or len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:16]
    suffix = f"...[{len(value):,} chars, sha256 {digest}]"
    return value[:limit - len(suffix)] + suffix


def rows_for(pipeline: str, stage: str, subjects: Iterable[dict], kind: str, message: str,
             now: dt.datetime | None = None) -> list[dict]:
    now = now or dt.datetime.now(dt.timezone.utc)
    return [DEADLETTER.conform({
        "pipeline": pipeline, "stage": stage,
        "record_key": clipped(s.get("record_key") or s.get("gif_id") or s.get("url") or ""),
        "url": clipped(s.get("url")), "gif_id": clipped(s.get("gif_id")),
        "error_kind": kind, "message": message[:MAX_MESSAGE_CHARS], "failed_at": now,
    }) for s in subjects]
