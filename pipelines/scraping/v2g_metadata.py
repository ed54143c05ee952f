"""The metadata file published with the Video2GIF dataset: one GIF per line.

A header line names the fields; fields are separated by ";\\t". Rows become gif
records that the scrape pipeline downloads like those found on a site.
"""
from __future__ import annotations

import re
from typing import Any

from pipelines.scraping.sites.adapter import ParseError

SOURCE = "v2g-metadata"
SEPARATOR = ";\t"
FIELDS = (
    "youtube_id", "is_creative_commons", "gif_id", "gif_url", "gif_start_frame", "gif_end_frame",
    "gif_start_sec", "gif_end_sec", "gif_title", "gif_views", "gif_age", "video_title", "video_views",
    "video_publish_date", "video_likes", "video_duration", "video_frame_count", "video_category",
    "video_rating", "video_description", "video_retrieved_date",
)
REQUIRED = ("youtube_id", "gif_id", "gif_url")
YOUTUBE_WATCH_URL = "https://www.youtube.com/watch?v={youtube_id}"


class MalformedRow(ParseError):
    kind = "malformed_row"


def parse_header(line: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in line.rstrip("\r\n").split(SEPARATOR))
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise ValueError(f"Video2GIF metadata header lacks fields {missing}; got {list(names)}")
    return names


def _number(value: str, cast):
    value = value.strip()
    if value in ("", "None", "nan", "NaN"):
        return None
    return cast(float(value)) if cast is int else cast(value)


def _flag(value: str) -> bool | None:
    value = value.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    if value in ("", "none", "nan"):
        return None
    raise ValueError(f"not a yes/no value: {value!r}")


_ISO_DURATION = re.compile(r"^P(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)$")


def _duration_sec(value: str) -> float | None:
    """Seconds, or YouTube's ISO 8601 duration (PT4M13S)."""
    value = value.strip()
    match = _ISO_DURATION.match(value)
    if match and value != "PT":
        hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    return _number(value, float)


def parse_video_tags(line: str) -> tuple[str, list[str]]:
    """(youtube_id, tags) from a line of the dataset's video_tags.txt: `YoutubeID;\t tag1; tag2; ...`."""
    youtube_id, sep, tags = line.rstrip("\r\n").partition(SEPARATOR)
    if not sep or not youtube_id.strip():
        raise MalformedRow(f"expected 'YoutubeID;\\t tag1; tag2; ...', got {line[:120]!r}")
    return youtube_id.strip(), [t.strip() for t in tags.split(";") if t.strip()]


def parse_row(line: str, header: tuple[str, ...] = FIELDS,
              video_url_template: str = YOUTUBE_WATCH_URL, video_tags: dict | None = None) -> dict[str, Any]:
    """A gif record (the gifs table's fields known before download) from one metadata line;
    `video_tags` (youtube_id -> tags, from video_tags.txt) gives the video's own tags."""
    values = line.rstrip("\r\n").split(SEPARATOR)
    if len(values) != len(header):
        raise MalformedRow(f"expected {len(header)} fields separated by ';\\t', got {len(values)}: {line[:120]!r}")
    raw = dict(zip(header, (v.strip() for v in values)))
    for name in REQUIRED:
        if not raw[name]:
            raise MalformedRow(f"empty {name!r} in {line[:120]!r}")
    try:
        return {
            "gif_id": f"v2g:{raw['gif_id']}",
            "source": SOURCE,
            "page_url": None,
            "gif_url": raw["gif_url"],
            "video_id": raw["youtube_id"],
            "video_url": video_url_template.format(youtube_id=raw["youtube_id"]),
            "title": raw.get("gif_title") or None,
            "views": _number(raw.get("gif_views", ""), int),
            "upload_date": None,
            "tags": [],
            "video_tags": (video_tags or {}).get(raw["youtube_id"]),
            "category": raw.get("video_category") or None,
            "video_title": raw.get("video_title") or None,
            "is_creative_commons": _flag(raw.get("is_creative_commons", "")),
            "video_duration_sec": _duration_sec(raw.get("video_duration", "")),
            "published_start_frame": _number(raw.get("gif_start_frame", ""), int),
            "published_end_frame": _number(raw.get("gif_end_frame", ""), int),
            "published_start_sec": _number(raw.get("gif_start_sec", ""), float),
            "published_end_sec": _number(raw.get("gif_end_sec", ""), float),
            "published_gif_age": _number(raw.get("gif_age", ""), float),
        }
    except ValueError as exc:
        raise MalformedRow(f"unreadable number in {line[:120]!r}: {exc}") from exc
