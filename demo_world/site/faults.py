"""Faults: per-path misbehaviour injected on demand (slow pages, 500s, truncated bodies,
wrong content types, redirect tricks, endless bodies), parsed from specs like "slow:200"."""
from __future__ import annotations

import os
from dataclasses import dataclass

from demo_world.site.pages import document, error_document
from demo_world.site.responses import BytesBody, EndlessBody, Response, html_response, redirect_response

# What an "oversized" response claims, and the most it really sends before hanging up.
OVERSIZED_CLAIMED_BYTES = 4 * 1024**3
OVERSIZED_SENT_CAP_BYTES = 256 * 1024**2
WRONG_TYPE_PAGE_BYTES = 4096
# The second hop of a redirect_loop fault lives under this prefix, next to the faulted path.
REDIRECT_LOOP_PREFIX = "/redirect-loop"

FAULTS_WITHOUT_ARGUMENT = frozenset(
    {"404", "500", "truncate", "wrong_type", "redirect_loop", "oversized"})
FAULTS_WITH_COUNT = frozenset({"slow", "flaky500"})
FAULT_SPEC_HELP = ("slow:MS, 404, 500, flaky500:N, truncate, wrong_type, redirect_loop, "
                   "redirect:URL, oversized")


@dataclass(frozen=True)
class Fault:
    kind: str
    count: int = 0       # milliseconds for slow, failing requests for flaky500
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


def fault_response(fault: Fault, hit_number: int, path: str) -> Response | None:
    """The response that replaces the normal one, or None when the fault only alters
    timing or delivery (slow, truncate) or has stopped firing (flaky500)."""
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
