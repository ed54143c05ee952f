"""Declarative site adapters: selectors and field types from a YAML config."""
import datetime as dt

import pytest

from pipelines.scraping.sites.adapter import ParseError, SiteAdapter

LISTING = """<html><body><ul>
<li class="gif-item"><a class="gif-link" href="/gif/g1">One</a></li>
<li class="gif-item"><a class="gif-link" href="/gif/g2">Two</a></li>
<li class="gif-item"><a class="gif-link" href="/gif/g1">One again</a></li>
</ul><a class="prev" rel="prev" href="/gifs?page=1">Prev</a><a class="next" rel="next" href="?page=3">Next</a>
</body></html>"""

GIF_PAGE = """<article class="gif" data-gif-id="g00042">
<h1 class="title">Cat &amp; dog</h1><img class="gif-image" src="/media/gifs/g00042.gif">
<a class="source-video" href="https://videos.example/v/abc.mp4" data-video-id="v0007">Source</a>
<span class="views" data-views="1234567">1,234,567 views</span>
<time class="uploaded" datetime="2026-02-03">Feb 3</time>
<ul class="tags"><li class="tag"> cat </li><li class="tag">dog</li></ul>
<a class="category" href="/category/pets">Pets &amp; Animals</a></article>"""


def test_listing_links_are_absolute_and_unique():
    listing = SiteAdapter.load("demo").parse_listing(LISTING, "http://site.test/gifs?page=2")
    assert listing.gif_page_urls == ["http://site.test/gif/g1", "http://site.test/gif/g2"]
    assert listing.next_page_url == "http://site.test/gifs?page=3"


def test_gif_page_fields_are_typed():
    fields = SiteAdapter.load("demo").parse_gif_page(GIF_PAGE, "http://site.test/gif/g00042")
    assert fields == {
        "gif_id": "g00042", "title": "Cat & dog", "gif_url": "http://site.test/media/gifs/g00042.gif",
        "video_url": "https://videos.example/v/abc.mp4", "video_id": "v0007", "video_title": "Source",
        "views": 1234567, "upload_date": dt.date(2026, 2, 3), "tags": ["cat", "dog"],
        "category": "Pets & Animals",
    }


def test_missing_required_field_is_a_parse_error():
    html = GIF_PAGE.replace('class="gif-image"', 'class="other"')
    with pytest.raises(ParseError, match="gif_url"):
        SiteAdapter.load("demo").parse_gif_page(html, "http://site.test/gif/g00042")


def test_an_optional_field_that_does_not_read_is_null_and_reported():
    html = GIF_PAGE.replace("2026-02-03", "yesterday")
    fields, unreadable = SiteAdapter.load("demo").read_gif_page(html, "http://site.test/gif/g00042")
    assert fields["upload_date"] is None and unreadable == ("upload_date",)
    assert fields["gif_url"] == "http://site.test/media/gifs/g00042.gif"  # the GIF itself is kept


def test_a_required_field_that_does_not_read_is_a_parse_error():
    html = GIF_PAGE.replace('src="/media/gifs/g00042.gif"', 'src="http://[::1/x.gif"')
    with pytest.raises(ParseError, match="gif_url"):
        SiteAdapter.load("demo").parse_gif_page(html, "http://site.test/gif/g00042")


def test_a_new_site_is_configuration_only(tmp_path):
    config = tmp_path / "other.yaml"
    config.write_text(
        "name: other\n"
        "listing: {gif_links: 'div.card a::attr(href)'}\n"
        "gif_page:\n  fields:\n"
        "    gif_url: {css: 'img#main::attr(data-src)', type: url, required: true}\n"
        "    video_url: {css: 'a.src::attr(href)', type: url, required: true}\n"
        "    views: {css: 'b.v::text', type: int}\n")
    adapter = SiteAdapter.load(str(config))
    page = '<img id="main" data-src="x.gif"><a class="src" href="//cdn.test/v.mp4">v</a><b class="v">12 345</b>'
    assert adapter.parse_gif_page(page, "https://o.test/p/1") == {
        "gif_url": "https://o.test/p/x.gif", "video_url": "https://cdn.test/v.mp4", "views": 12345}
    listing = adapter.parse_listing('<div class="card"><a href="/p/1">1</a></div>', "https://o.test/")
    assert listing.next_page_url is None


def test_config_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nlisting: {gif_links: a}\ngif_page: {fields: {gif_url: {css: img}}}\n")
    with pytest.raises(ValueError, match="video_url"):
        SiteAdapter.load(str(bad))
    with pytest.raises(FileNotFoundError):
        SiteAdapter.load("no-such-site")
