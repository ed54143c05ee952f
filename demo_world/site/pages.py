"""HTML: the demo site's pages (listings, GIF and video pages, error pages)."""
from __future__ import annotations

import datetime
import html

from demo_world.site.catalog import DemoWorld, GifEntry, VideoEntry
from demo_world.site.urls import (
    category_path,
    gif_media_path,
    listing_path,
    video_content_type,
    video_media_path,
    video_page_path,
)

MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:1rem auto;padding:0 1rem}"
    "header a{margin-right:.8rem}ul.gif-list{line-height:1.7}"
    "img.gif-image{max-width:100%}ul.tags{padding:0}li.tag{display:inline;margin-right:.5rem}"
    "li.tag:before{content:'#'}nav.pagination a{margin:0 .5rem}"
)


def escape(text) -> str:
    return html.escape(str(text), quote=True)


def human_date(day: datetime.date) -> str:
    return f"{MONTH_ABBREVIATIONS[day.month - 1]} {day.day}, {day.year}"


def views_text(views: int) -> str:
    return "1 view" if views == 1 else f"{views:,} views"


def document(title: str, main_html: str, nav_html: str = "") -> str:
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{escape(title)} - gifrank demo</title>\n<style>{PAGE_CSS}</style>\n</head>\n"
        f"<body>\n<header>{nav_html}</header>\n<main>\n{main_html}\n</main>\n</body>\n</html>\n"
    )


def error_document(status: int, message: str) -> str:
    return document(f"{status}", f"<h1 class=\"error\">{status}</h1>\n<p>{escape(message)}</p>")


def navigation_html(world: DemoWorld) -> str:
    links = [f'<a class="home" href="{listing_path(1)}">All GIFs</a>']
    links += [f'<a class="nav-category" href="/category/{slug}">{escape(name)}</a>'
              for slug, name in sorted(world.category_names.items())]
    return '<nav class="site-nav">' + " ".join(links) + "</nav>"


def gif_items_html(gifs: list[GifEntry], page_path_of) -> str:
    items = [f'<li class="gif-item"><a class="gif-link" href="{escape(page_path_of(gif.gif_id))}">'
             f"{escape(gif.title)}</a></li>" for gif in gifs]
    return '<ul class="gif-list">\n' + "\n".join(items) + "\n</ul>"


def pagination_html(page: int, total_pages: int, page_href_of) -> str:
    parts = []
    if page > 1:
        parts.append(f'<a class="prev" rel="prev" href="{page_href_of(page - 1)}">Previous</a>')
    parts.append(f'<span class="page-number">Page {page} of {total_pages}</span>')
    if page < total_pages:
        parts.append(f'<a class="next" rel="next" href="{page_href_of(page + 1)}">Next</a>')
    return '<nav class="pagination">' + " ".join(parts) + "</nav>"


def _suffix(video: VideoEntry | None) -> str:
    """The video's file suffix, which its media URL keeps (.mp4 when the video is unknown)."""
    return video.file.suffix.lower() if video else ".mp4"


def gif_article_html(gif: GifEntry, video: VideoEntry | None) -> str:
    title = escape(gif.title)
    video_id = escape(gif.video_id)
    video_title = escape(video.title if video else gif.video_id)
    tags = "".join(f'<li class="tag">{escape(tag)}</li>' for tag in gif.tags)
    category = escape(gif.category)
    return (
        f'<article class="gif" data-gif-id="{escape(gif.gif_id)}">\n'
        f'  <h1 class="title">{title}</h1>\n'
        f'  <img class="gif-image" src="{escape(gif_media_path(gif.gif_id))}" alt="{title}">\n'
        f'  <a class="source-video" href="{escape(video_media_path(gif.video_id, _suffix(video)))}"'
        f' data-video-id="{video_id}">{video_title}</a>\n'
        f'  <a class="watch" href="{escape(video_page_path(gif.video_id))}">Watch the video</a>\n'
        f'  <span class="views" data-views="{gif.views}">{views_text(gif.views)}</span>\n'
        f'  <time class="uploaded" datetime="{gif.uploaded.isoformat()}">'
        f"{human_date(gif.uploaded)}</time>\n"
        f'  <ul class="tags">{tags}</ul>\n'
        f'  <a class="category" href="{escape(category_path(gif.category))}">{category}</a>\n'
        "</article>"
    )


def video_article_html(video: VideoEntry) -> str:
    size_attributes = "".join(f' {name}="{value}"' for name, value
                              in (("width", video.width), ("height", video.height)) if value)
    source = escape(video_media_path(video.video_id, _suffix(video)))
    content_type = escape(video_content_type(_suffix(video)))
    return (
        f'<article class="video" data-video-id="{escape(video.video_id)}">\n'
        f'  <h1 class="title">{escape(video.title)}</h1>\n'
        f'  <video controls{size_attributes}><source src="{source}" type="{content_type}"></video>\n'
        "</article>"
    )
