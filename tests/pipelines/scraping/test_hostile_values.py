"""Values from outside, generated (hypothesis): whatever a site or the metadata says, a record either
reaches the gifs table's schema or becomes a dead letter with a reason; nothing else escapes."""
import datetime as dt
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurizer.dataset import tables
from featurizer.dataset.dead_letter_rows import Failed, clipped, rows_for
from featurizer.dataset.value_bounds import INT32_MAX, INT64_MAX, MAX_URL_CHARS, OutOfBounds, bound_gif_record
from pipelines.scraping import v2g_metadata as meta
from pipelines.scraping.sites.adapter import FieldRule, ParseError, SiteAdapter

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

anything_numeric = st.one_of(
    st.none(), st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=5))
hostile_text = st.text(st.characters(codec=None, blacklist_categories=()), max_size=50) | st.just("\ud800x")


def _full_row(record: dict) -> dict:
    """The record as a gifs row once downloaded (the fields only downloads add)."""
    return {**record, "gif_sha256": "0" * 64, "gif_bytes": 1, "video_sha256": "1" * 64, "video_bytes": 1,
            "scraped_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}


@SETTINGS
@given(views=anything_numeric, duration=anything_numeric, age=anything_numeric,
       start_frame=anything_numeric, end_frame=anything_numeric, start_sec=anything_numeric,
       end_sec=anything_numeric, title=hostile_text, tags=st.lists(hostile_text, max_size=5),
       url_length=st.integers(1, 2 * MAX_URL_CHARS))
def test_a_bounded_record_always_fits_the_gifs_table(views, duration, age, start_frame, end_frame, start_sec,
                                                      end_sec, title, tags, url_length):
    record = {"gif_id": "site:1", "source": "site", "page_url": "http://s.test/1",
              "gif_url": "http://s.test/" + "g" * url_length, "video_id": "v", "video_url": "http://s.test/v.mp4",
              "title": title, "views": views, "tags": tags, "video_duration_sec": duration,
              "published_gif_age": age, "published_start_frame": start_frame, "published_end_frame": end_frame,
              "published_start_sec": start_sec, "published_end_sec": end_sec}
    try:
        bounded = bound_gif_record(record)
    except OutOfBounds as exc:
        assert exc.kind == "url_too_long" and len(record["gif_url"]) > MAX_URL_CHARS
        return
    out = bounded.record
    tables.rows_to_arrow(tables.GIFS, [_full_row(out)])  # the table takes it: the point of the bounds
    assert out["views"] is None or 0 <= out["views"] <= INT64_MAX
    for start, end in (("published_start_frame", "published_end_frame"), ("published_start_sec", "published_end_sec")):
        assert (out[start] is None) == (out[end] is None)
        assert out[start] is None or 0 <= out[start] < out[end]
    assert out["published_end_frame"] is None or out["published_end_frame"] <= INT32_MAX
    for name in ("video_duration_sec", "published_gif_age", "published_start_sec", "published_end_sec"):
        assert out[name] is None or (math.isfinite(out[name]) and out[name] >= 0)
    # What was given and is now gone, is counted.
    if views is not None and out["views"] is None:
        assert "views" in bounded.nulled


def test_the_issue_s_values_are_nulled_and_counted():
    bounded = bound_gif_record({"gif_id": "s:1", "views": int("9" * 23), "published_start_frame": -5,
                                "published_end_frame": 10, "published_start_sec": 7.0, "published_end_sec": 3.0,
                                "video_duration_sec": float("inf")})
    assert bounded.record["views"] is None and bounded.record["video_duration_sec"] is None
    assert bounded.record["published_start_frame"] is bounded.record["published_end_frame"] is None
    assert bounded.counters() == {"nulled_views": 1, "nulled_video_duration_sec": 1,
                                  "nulled_published_frames": 1, "nulled_published_secs": 1}


@pytest.mark.parametrize("field, kind", [("gif_id", "id_too_long"), ("video_id", "id_too_long"),
                                         ("gif_url", "url_too_long"), ("page_url", "url_too_long")])
def test_an_identity_too_long_is_a_dead_letter(field, kind):
    with pytest.raises(OutOfBounds) as raised:
        bound_gif_record({field: "x" * 1_000_000})
    assert raised.value.kind == kind and len(str(raised.value)) < 300


def test_a_dead_letter_holds_a_clipped_url_that_still_tells_two_apart():
    a, b = "http://s.test/" + "a" * 10**6, "http://s.test/" + "a" * (10**6 - 1) + "b"
    rows = rows_for("scrape", "gif_page", [{"url": a}, {"url": b}], "url_too_long", "m")
    assert all(len(r["url"]) <= MAX_URL_CHARS and len(r["record_key"]) <= MAX_URL_CHARS for r in rows)
    assert rows[0]["record_key"] != rows[1]["record_key"] and clipped("short") == "short"


@SETTINGS
@given(value=st.text(max_size=60), type_=st.sampled_from(["str", "int", "date", "url"]), required=st.booleans())
def test_a_field_reads_as_its_type_or_says_it_did_not(value, type_, required):
    from html import escape

    import parsel

    rule = FieldRule(name="f", css="b::attr(data-v)", type=type_, required=required)
    selector = parsel.Selector(text=f'<b data-v="{escape(value)}"></b>')
    try:
        result, readable = rule.read(selector, "http://s.test/p")
    except ParseError:
        assert required
        return
    if not readable:
        assert result is None and not required
    elif result is not None and type_ == "int":
        assert isinstance(result, int) and result >= 0


@SETTINGS
@given(hrefs=st.lists(st.text(max_size=30), max_size=20))
def test_listing_links_are_urls_without_fragments_or_reported(hrefs):
    from html import escape

    adapter = SiteAdapter.load("demo")
    html = "".join(f'<a class="gif-link" href="{escape(h)}">x</a>' for h in hrefs)
    listing = adapter.parse_listing(html, "http://s.test/gifs?page=1")
    assert all("#" not in url for url in listing.gif_page_urls)
    assert len(set(listing.gif_page_urls)) == len(listing.gif_page_urls)
    assert len(listing.gif_page_urls) + len(listing.bad_links) <= len(hrefs)


def test_a_listing_link_that_is_no_url_is_reported_not_raised():
    listing = SiteAdapter.load("demo").parse_listing(
        '<a class="gif-link" href="http://[::1/x">x</a><a class="gif-link" href="/gif/1#top">y</a>', "http://s.test/")
    assert listing.gif_page_urls == ["http://s.test/gif/1"] and listing.bad_links == ("http://[::1/x",)


# ---------------------------------------------------------------- the published metadata

HEADER = meta.SEPARATOR.join(meta.FIELDS)


def _line(**values) -> bytes:
    base = {name: "" for name in meta.FIELDS}
    base.update(youtube_id="yt1", gif_id="1", gif_url="http://g.test/1.gif")
    base.update(values)
    return meta.SEPARATOR.join(base[n] for n in meta.FIELDS).encode()


@SETTINGS
@given(raw=st.binary(max_size=200) | st.lists(st.text(max_size=15), min_size=len(meta.FIELDS),
                                               max_size=len(meta.FIELDS)).map(
                                                   lambda v: meta.SEPARATOR.join(v).encode("utf-8", "replace")))
def test_any_metadata_line_is_a_record_or_a_dead_letter_naming_file_and_line(raw):
    worker = meta.MetadataRows("meta.txt", meta.FIELDS)
    (output,) = list(worker((7, raw)))
    if isinstance(output, Failed):
        assert output.error.kind in ("malformed_row", "undecodable_bytes", "id_too_long", "url_too_long")
        assert str(output.error).startswith("meta.txt line 7: ")
        assert output.subjects[0]["record_key"] == "meta.txt:7"
    else:
        tables.rows_to_arrow(tables.GIFS, [_full_row({k: v for k, v in output.items() if not k.startswith("_")})])


@pytest.mark.parametrize("views, expected", [("1e30", None), ("inf", None), ("-3", None), ("1500", 1500),
                                             ("1500.0", 1500), ("9" * 23, None)])
def test_metadata_numbers_out_of_range_are_nulled_and_counted(views, expected):
    (record,) = meta.MetadataRows("m.txt", meta.FIELDS)((2, _line(gif_views=views)))
    assert record["views"] == expected
    assert record["_counts"] == ({} if expected is not None else {"nulled_views": 1})


def test_metadata_bytes_that_are_not_utf8_name_file_line_and_column():
    (failed,) = meta.MetadataRows("m.txt", meta.FIELDS)((12, _line(gif_title="caf\xe9").replace(b"\xc3\xa9", b"\xe9")))
    assert failed.error.kind == "undecodable_bytes"
    assert str(failed.error).startswith("m.txt line 12: byte 0xe9 at column")


def test_a_repeated_gif_id_keeps_the_earliest_line_and_says_why_for_the_others():
    rows = {n: r for n, r in ((n, next(iter(meta.MetadataRows("m.txt", meta.FIELDS)((n, raw)))))
                              for n, raw in ((5, _line()), (2, _line(gif_url="http://g.test/other.gif")),
                                             (9, _line(gif_url="http://g.test/other.gif"))))}
    outputs = list(meta.OneRowPerGifId("m.txt")(("v2g:1", list(rows.values()))))
    kept, *failed = outputs
    assert kept["_line"] == 2 and kept["gif_url"] == "http://g.test/other.gif"
    kinds = {f.subjects[0]["record_key"]: f.error.kind for f in failed}
    assert kinds == {"m.txt:5": "conflicting_duplicate", "m.txt:9": "repeated_row"}
    assert "gif_url" in str(failed[0].error) and "line 2 kept" in str(failed[0].error)


def test_a_missing_metadata_file_is_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Video2GIF metadata file"):
        meta.read_header(str(tmp_path / "absent.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"youtube_id;\tgif_id\xff;\tgif_url\n")
    with pytest.raises(ValueError, match="line 1: the header is not UTF-8"):
        meta.read_header(str(bad))
