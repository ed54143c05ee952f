"""URL layout: the path of every kind of page and media file on the demo site.

::

    /robots.txt                     disallows /private/
    /                               302 -> /gifs?page=1
    /gifs?page=N                    all GIFs, newest first
    /category/<slug>?page=N         GIFs of one category
    /gif/<gif_id>                   GIF page (/private/gif/<gif_id> for private GIFs)
    /video/<video_id>               watch page
    /media/gifs/<gif_id>.gif        GIF bytes
    /media/videos/<video_id>.mp4    video bytes (supports Range); .webm, .mkv for videos shipped so
"""
from __future__ import annotations

from urllib.parse import quote

from demo_world.site.catalog import category_slug


def listing_path(page: int) -> str:
    return f"/gifs?page={page}"


def category_path(category: str, page: int | None = None) -> str:
    path = f"/category/{category_slug(category)}"
    return path if page is None else f"{path}?page={page}"


def public_gif_page_path(gif_id: str) -> str:
    return f"/gif/{quote(gif_id)}"


def private_gif_page_path(gif_id: str) -> str:
    return f"/private/gif/{quote(gif_id)}"


def video_page_path(video_id: str) -> str:
    return f"/video/{quote(video_id)}"


def gif_media_path(gif_id: str) -> str:
    return f"/media/gifs/{quote(gif_id)}.gif"


# Content types by video file suffix; the media URL keeps the file's suffix, as real sites do.
VIDEO_CONTENT_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska"}


def video_media_path(video_id: str, suffix: str = ".mp4") -> str:
    return f"/media/videos/{quote(video_id)}{suffix}"


def video_content_type(suffix: str) -> str:
    return VIDEO_CONTENT_TYPES.get(suffix.lower(), "application/octet-stream")
