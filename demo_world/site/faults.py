"""Faults: per-path misbehaviour injected on demand (slow pages, 500s, truncated bodies,
wrong content types, redirect tricks, endless bodies), parsed from specs like "slow:200";
and hostile servers: bodies that drip a byte at a time, gzip bombs, and pages whose
content is hostile (a 23-digit view count, a megabyte-long attribute, 10,000 links)."""
from __future__ import annotations

import functools
import gzip
import os
import re
from dataclasses import dataclass, replace

from demo_world.site.pages import document, error_document
from demo_world.site.responses import BytesBody, EndlessBody, Response, html_response, redirect_response

# What an "oversized" response claims, and the most it really sends before hanging up.
OVERSIZED_CLAIMED_BYTES = 4 * 1024**3
OVERSIZED_SENT_CAP_BYTES = 256 * 1024**2
WRONG_TYPE_PAGE_BYTES = 4096
# The second hop of a redirect_loop fault lives under this prefix, next to the faulted path.
REDIRECT_LOOP_PREFIX = "/redirect-loop"

# A gzip bomb's inflated body: a real file's first bytes (so it sniffs as what it claims), then zeros.
GZIP_BOMB_HEADS = {"image/gif": b"GIF89a", "video/mp4": b"\0\0\0\x18ftypmp42", "video/webm": b"\x1a\x45\xdf\xa3",
                   "video/x-matroska": b"\x1a\x45\xdf\xa3", "text/html": b"<html><body>"}
HUGE_VIEWS = "9" * 23

FAULTS_WITHOUT_ARGUMENT = frozenset(
    {"404", "500", "truncate", "wrong_type", "redirect_loop", "oversized", "huge_views"})
FAULTS_WITH_COUNT = frozenset({"slow", "flaky500", "drip", "gzip_bomb", "long_url", "many_links"})
FAULT_SPEC_HELP = ("slow:MS, 404, 500, flaky500:N, truncate, wrong_type, redirect_loop, "
                   "redirect:URL, oversized, drip:MS (a byte every MS ms), gzip_bomb:MB (gzip-encoded, "
                   "inflating to MB MiB), huge_views (a GIF page's views: 23 digits), long_url:N (a GIF page's "
                   "GIF URL: N characters), many_links:N (a listing page: N more links)")


@dataclass(frozen=True)
class Fault:
    kind: str
    count: int = 0       # milliseconds for slow and drip, failing requests for flaky500, MiB, characters, links
    location: str = ""   # target of redirect


def parse_fault_spec(spec: str) -> Fault:
    kind, has_argument, argument = spec.partition(":")
    if kind in FAULTS_WITHOUT_ARGUMENT and not has_argument:
        return Fault(kind)
    if kind in FAULTS_WITH_COUNT and argument.isdigit():
        return Fault(kind, count=int(argument))
    if kind == "redirect" and argument:
        return Fault(kind, location=argument)
    raise ValueError(f"unknown fault spec {spec!r}; expected one of: {FAULT_SPEC_HELP}")


def is_media_path(path: str) -> bool:
    return path.startswith("/media/")


def wrong_type_response(path: str) -> Response:
    if is_media_path(path):
        # What a CDN login wall or soft error looks like: a 200 that is not the media.
        return html_response(document("Sign in", "<h1>Please sign in to continue</h1>"))
    return Response(200, "application/octet-stream", BytesBody(os.urandom(WRONG_TYPE_PAGE_BYTES)))


@functools.lru_cache(maxsize=8)
def gzip_bomb_response(megabytes: int, content_type: str) -> Response:
    """A small gzip-encoded body that inflates to `megabytes` MiB, as a compressing server sends it."""
    head = GZIP_BOMB_HEADS.get(content_type.split(";")[0], b"")
    inflated = head + b"\0" * (megabytes * 2**20 - len(head))
    return Response(200, content_type, BytesBody(gzip.compress(inflated, compresslevel=9, mtime=0)),
                    headers=(("Content-Encoding", "gzip"),))


def rewritten_page(fault: Fault | None, response: Response) -> Response:
    """The normal page with hostile content: faults that change what a page says, not how it is sent."""
    if fault is None or fault.kind not in ("huge_views", "long_url", "many_links", "gzip_bomb"):
        return response
    if fault.kind == "gzip_bomb":
        return gzip_bomb_response(fault.count, response.content_type)
    if not isinstance(response.body, BytesBody):  # pages are always built in memory (html_response)
        raise TypeError(f"cannot rewrite a {type(response.body).__name__} page")
    html = response.body.data.decode("utf-8")
    if fault.kind == "huge_views":
        html = re.sub(r'data-views="\d+"', f'data-views="{HUGE_VIEWS}"', html)
    elif fault.kind == "long_url":
        html = re.sub(r'(class="gif-image" src=")([^"]*)"',
                      lambda m: f'{m.group(1)}{m.group(2)}?{"x" * max(0, fault.count - len(m.group(2)) - 1)}"', html)
    else:  # many_links: the page's own GIF links again and again, with fragments (the same pages)
        links = re.findall(r'<a class="gif-link" href="([^"#]*)"', html)
        extra = "".join(f'<a class="gif-link" href="{links[i % len(links)]}#{i}">again</a>'
                        for i in range(fault.count)) if links else ""
        html = html.replace("</ul>", f"</ul>{extra}", 1)
    return replace(response, body=BytesBody(html.encode("utf-8")))


def fault_response(fault: Fault, hit_number: int, path: str) -> Response | None:
    """The response that replaces the normal one, or None when the fault only alters
    timing or delivery (slow, truncate, drip), rewrites the normal response
    (rewritten_page) or has stopped firing (flaky500)."""
    if fault.kind in ("404", "500"):
        status = int(fault.kind)
        return html_response(error_document(status, f"Injected fault {fault.kind}"), status)
    if fault.kind == "flaky500" and hit_number <= fault.count:
        return html_response(error_document(500, "Injected flaky failure"), 500)
    if fault.kind == "wrong_type":
        return wrong_type_response(path)
    if fault.kind == "redirect_loop":
        return redirect_response(REDIRECT_LOOP_PREFIX + path)
    if fault.kind == "redirect":
        return redirect_response(fault.location)
    if fault.kind == "oversized":
        return Response(200, "application/octet-stream",
                        EndlessBody(OVERSIZED_CLAIMED_BYTES, OVERSIZED_SENT_CAP_BYTES))
    return None
