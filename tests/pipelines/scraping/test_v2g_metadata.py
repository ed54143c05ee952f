"""The published Video2GIF metadata format: header, ';\\t' separators, typed fields."""
import pytest

from pipelines.scraping import v2g_metadata as meta

HEADER = meta.SEPARATOR.join(meta.FIELDS)


def _line(**overrides):
    values = {name: "" for name in meta.FIELDS}
    values.update(youtube_id="dQw4w9WgXcQ", is_creative_commons="1", gif_id="abc123",
                  gif_url="http://gifs.test/abc123.gif", gif_start_frame="120", gif_end_frame="180",
                  gif_start_sec="4.8", gif_end_sec="7.2", gif_title="A title", gif_views="1500",
                  gif_age="300", video_title="Video", video_category="Sports")
    values.update(overrides)
    return meta.SEPARATOR.join(values[n] for n in meta.FIELDS)


def test_row_becomes_a_gif_record():
    record = meta.parse_row(_line(), meta.parse_header(HEADER), "https://mirror.test/{youtube_id}.mp4")
    assert record["gif_id"] == "v2g:abc123"
    assert record["video_id"] == "dQw4w9WgXcQ"
    assert record["video_url"] == "https://mirror.test/dQw4w9WgXcQ.mp4"
    assert (record["published_start_frame"], record["published_end_frame"]) == (120, 180)
    assert (record["published_start_sec"], record["published_end_sec"]) == (4.8, 7.2)
    assert record["views"] == 1500 and record["published_gif_age"] == 300.0
    assert record["category"] == "Sports" and record["source"] == "v2g-metadata"
    assert record["title"] == "A title" and record["video_title"] == "Video"
    assert record["is_creative_commons"] is True and record["video_duration_sec"] is None


@pytest.mark.parametrize("published, seconds", [("253", 253.0), ("253.5", 253.5), ("PT4M13S", 253.0),
                                                ("PT1H2M3S", 3723.0), ("PT45S", 45.0), ("", None)])
def test_video_duration_in_seconds_or_iso_8601(published, seconds):
    assert meta.parse_row(_line(video_duration=published))["video_duration_sec"] == seconds


@pytest.mark.parametrize("flag, value", [("1", True), ("True", True), ("0", False), ("false", False), ("", None)])
def test_creative_commons_flag(flag, value):
    assert meta.parse_row(_line(is_creative_commons=flag))["is_creative_commons"] is value


def test_default_video_url_is_youtube():
    record = meta.parse_row(_line())
    assert record["video_url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def test_header_order_is_honoured():
    reordered = ("gif_url", "gif_id", "youtube_id")
    record = meta.parse_row(meta.SEPARATOR.join(["http://g.test/x.gif", "x", "yt1"]), meta.parse_header(
        meta.SEPARATOR.join(reordered)))
    assert (record["gif_id"], record["video_id"], record["views"]) == ("v2g:x", "yt1", None)


@pytest.mark.parametrize("line", ["only;\tthree;\tfields", _line(gif_views="many"), _line(gif_url=""),
                                  _line(is_creative_commons="maybe"), _line(video_duration="long")])
def test_malformed_rows_are_refused(line):
    with pytest.raises(meta.MalformedRow):
        meta.parse_row(line)


def test_header_without_required_fields():
    with pytest.raises(ValueError, match="gif_url"):
        meta.parse_header("youtube_id;\tgif_id")
