"""Values from outside (GIF sites, the published metadata) bounded before they reach a table.

A scraped value can be anything: a 23-digit view count, `inf`, a reversed frame span, a
megabyte of URL. What happens to a value out of bounds depends on what the field is for:

- what the record is (gif_id, video_id; gif_url, video_url, page_url): too long, and the
  record is a dead letter (`id_too_long`, `url_too_long`): a clipped id or URL would be
  another record.
- optional numbers (views, video_duration_sec, the published span and age): not a finite
  number, negative, beyond the column's integer type, or a span that is empty or reversed,
  and the value is null (a span: both ends), counted as `nulled_<field>`: the GIF itself is
  good, and null is what the tables already hold where a source says nothing.
- free text (title, video_title, category, tags): clipped at MAX_TEXT_CHARS (a tag at
  MAX_TAG_CHARS, at most MAX_TAGS tags), text that is not valid Unicode repaired, counted
  as `clamped_<field>`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Twice the sitemaps protocol's 2,048 characters: room for signed CDN URLs, none for a megabyte.
MAX_URL_CHARS = 4096
MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 1000
MAX_TAG_CHARS = 200
MAX_TAGS = 200
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

ID_TOO_LONG = "id_too_long"
URL_TOO_LONG = "url_too_long"

ID_FIELDS = ("gif_id", "video_id")
URL_FIELDS = ("gif_url", "video_url", "page_url")
TEXT_FIELDS = ("title", "video_title", "category")
TAG_FIELDS = ("tags", "video_tags")
# field -> the largest value its column holds
INTEGER_FIELDS = {"views": INT64_MAX}
REAL_FIELDS = ("video_duration_sec", "published_gif_age")
# (start, end, the largest value, counter name): a span is kept whole or nulled whole
SPANS: tuple[tuple[str, str, float, str], ...] = (
    ("published_start_frame", "published_end_frame", INT32_MAX, "published_frames"),
    ("published_start_sec", "published_end_sec", math.inf, "published_secs"))


class OutOfBounds(ValueError):
    """A record whose identity is out of bounds: a dead letter of kind `kind`."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind

    def __reduce__(self) -> tuple[type[OutOfBounds], tuple[str, str]]:
        return (OutOfBounds, (self.kind, str(self)))


@dataclass(frozen=True)
class Bounded:
    """A record with its values in bounds, and the fields that were nulled or clamped on the way."""

    record: dict
    nulled: tuple[str, ...] = ()
    clamped: tuple[str, ...] = ()

    def counters(self) -> dict[str, int]:
        return {**{f"nulled_{f}": 1 for f in self.nulled}, **{f"clamped_{f}": 1 for f in self.clamped}}


def shown(text: str, limit: int = 120) -> str:
    """A value as a message shows it: at most `limit` characters, and how long it really is."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def bound_gif_record(record: dict[str, Any]) -> Bounded:
    """`record` (fields of the gifs table known before download) with every value in bounds;
    raises OutOfBounds when its ids or URLs are too long."""
    for name in ID_FIELDS:
        _require_length(record, name, MAX_ID_CHARS, ID_TOO_LONG)
    for name in URL_FIELDS:
        _require_length(record, name, MAX_URL_CHARS, URL_TOO_LONG)
    out, nulled, clamped = dict(record), [], []
    for name, largest in INTEGER_FIELDS.items():
        if name in out and out[name] is not None:
            out[name] = _whole_number(out[name], largest)
            if out[name] is None:
                nulled.append(name)
    for name in REAL_FIELDS:
        if name in out and out[name] is not None:
            out[name] = _real_number(out[name])
            if out[name] is None:
                nulled.append(name)
    for start, end, span_largest, counter in SPANS:
        given = (out.get(start), out.get(end))
        if given != (None, None):
            out[start], out[end] = _span(*given, span_largest)
            if out[start] is None:
                nulled.append(counter)
    for name in TEXT_FIELDS:
        if isinstance(out.get(name), str):
            text = _clamped_text(out[name], MAX_TEXT_CHARS)
            if text != out[name]:
                out[name] = text
                clamped.append(name)
    for name in TAG_FIELDS:
        if out.get(name):
            tags = [_clamped_text(str(t), MAX_TAG_CHARS) for t in out[name][:MAX_TAGS]]
            if tags != list(out[name]):
                out[name] = tags
                clamped.append(name)
    return Bounded(out, tuple(nulled), tuple(clamped))


def _require_length(record: dict, name: str, limit: int, kind: str) -> None:
    value = record.get(name)
    if isinstance(value, str) and len(value) > limit:
        raise OutOfBounds(kind, f"{name} is {len(value):,} characters, more than {limit:,}: {shown(value, 80)}")


def _whole_number(value: Any, largest: int) -> int | None:
    """An integer in [0, largest], or None: a float counts when it is a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= largest:
        return None
    return value


def _real_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and abs(value) > 2**53:  # float() of it would round, or overflow
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def _span(start: Any, end: Any, largest: float) -> tuple:
    """(start, end) when both are in [0, largest] and start < end; (None, None) otherwise."""
    if start is None and end is None:
        return None, None
    if largest == math.inf:
        start, end = _real_number(start), _real_number(end)
    else:
        start, end = _whole_number(start, int(largest)), _whole_number(end, int(largest))
    if start is None or end is None or not start < end:
        return None, None
    return start, end


def _clamped_text(text: str, limit: int) -> str:
    # Lone surrogates (from a broken escape) cannot be written as UTF-8: replaced, not refused.
    valid = text.encode("utf-8", "replace").decode("utf-8")
    return valid[:limit]
