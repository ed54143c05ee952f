"""The metadata file published with the Video2GIF dataset: one GIF per line.

A header line names the fields; fields are separated by ";\\t". Rows become gif
records that the scrape pipeline downloads like those found on a site. Every line after
the header ends as a record or as a dead letter naming the file and line: bytes that are
not UTF-8, a row that does not parse, a gif_id already given by an earlier line (the
earliest line is kept: `repeated_row` when the later one says the same, else
`conflicting_duplicate`). Values out of bounds are nulled or clamped
(featurizer.dataset.value_bounds).
"""
from __future__ import annotations

import io
import math
import re
from typing import Any

from featurizer.dataset.dead_letter_rows import Failed, subject
from featurizer.dataset.storage import open_file_system
from featurizer.dataset.value_bounds import bound_gif_record, shown
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


UNDECODABLE_BYTES = "undecodable_bytes"
REPEATED_ROW = "repeated_row"
CONFLICTING_DUPLICATE = "conflicting_duplicate"


def _open_lines(path: str) -> io.BufferedReader:
    """The file (local or gs://) as lines of bytes (pyarrow's streams have no readline)."""
    fs, fs_path = open_file_system(path)
    return io.BufferedReader(fs.open_input_stream(fs_path))


def read_header(path: str) -> tuple[str, ...]:
    """The field names of a metadata file: a one-line error for a file that is missing or whose
    header is not UTF-8."""
    try:
        with _open_lines(path) as f:
            first = f.readline()
    except FileNotFoundError:
        raise FileNotFoundError(f"no Video2GIF metadata file {path}") from None
    try:
        return parse_header(first.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} line 1: the header is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def numbered_lines(path: str, header_lines: int = 1):
    """(line number from 1, the line's bytes) of every non-blank line after the header, streamed."""
    with _open_lines(path) as f:
        for number, raw in enumerate(iter(f.readline, b""), start=1):
            if number > header_lines and raw.strip():
                yield number, raw


def decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRow(f"byte {raw[exc.start]:#04x} at column {exc.start + 1} is not UTF-8 "
                           "(save the file as UTF-8)", kind=UNDECODABLE_BYTES) from None


def _at_line(path: str, number: int, error: ValueError) -> Failed:
    return Failed((line_subject(path, number),),
                  MalformedRow(f"{path} line {number}: {error}", kind=getattr(error, "kind", MalformedRow.kind)))


def line_subject(path: str, number: int, gif_id: str | None = None) -> dict:
    """A metadata line as a dead letter's subject: keyed by file and line, so two bad lines never merge."""
    return subject(url=f"{path}:{number}", gif_id=gif_id, record_key=f"{path}:{number}")


class MetadataRows:
    """(line number, bytes) -> the line's gif record, its values bounded; `_line` and `_counts`
    (nulled and clamped values) ride along for the duplicates step and the counters."""

    def __init__(self, path: str, header: tuple[str, ...], video_url_template: str = YOUTUBE_WATCH_URL):
        self.path = path
        self.header = header
        self.video_url_template = video_url_template

    def __call__(self, numbered: tuple[int, bytes], video_tags: dict | None = None):
        number, raw = numbered
        try:
            bounded = bound_gif_record(parse_row(decoded(raw), self.header, self.video_url_template, video_tags))
        except ValueError as exc:  # MalformedRow, OutOfBounds: the line's own fault
            yield _at_line(self.path, number, exc)
            return
        yield {**bounded.record, "_line": number, "_counts": bounded.counters()}


class VideoTagRows:
    """(line number, bytes) of video_tags.txt -> (youtube_id, tags)."""

    def __init__(self, path: str):
        self.path = path

    def __call__(self, numbered: tuple[int, bytes]):
        number, raw = numbered
        try:
            yield parse_video_tags(decoded(raw))
        except MalformedRow as exc:
            yield _at_line(self.path, number, exc)


def _content(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


class OneRowPerGifId:
    """(gif_id, its records) -> the record of the earliest line; every later line a dead letter."""

    def __init__(self, path: str):
        self.path = path

    def __call__(self, group: tuple[str, list[dict]]):
        gif_id, records = group
        kept, *later = sorted(records, key=lambda r: r["_line"])
        yield kept
        for record in later:
            differing = sorted(k for k, v in _content(record).items() if _content(kept).get(k) != v)
            where = f"{self.path} line {record['_line']}: gif_id {shown(gif_id)!r} is already on line {kept['_line']}"
            error = (MalformedRow(f"{where}, with another {', '.join(differing)}: line {kept['_line']} kept",
                                  kind=CONFLICTING_DUPLICATE) if differing
                     else MalformedRow(f"{where}, the same row again", kind=REPEATED_ROW))
            yield Failed((line_subject(self.path, record["_line"], gif_id),), error)


def parse_header(line: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in line.rstrip("\r\n").split(SEPARATOR))
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise ValueError(f"Video2GIF metadata header lacks fields {missing}; got {list(names)}")
    return names


def _number(value: str, cast):
    """The number as written: ints of any size, floats of any value (inf too): whether it fits its
    column is featurizer.dataset.value_bounds's call. Text that is no number raises ValueError."""
    value = value.strip()
    if value in ("", "None", "nan", "NaN"):
        return None
    if cast is int:
        try:
            return int(value)
        except ValueError:
            number = float(value)  # "1500.0", "1e30"; ValueError for text
            return int(number) if math.isfinite(number) and number.is_integer() else number
    return cast(value)


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
