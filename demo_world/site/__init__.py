"""The demo GIF website: serves a generated "demo world" over real HTTP on loopback.

The scraper and its site adapter are developed and tested against this site, so it has to
behave like a real one on the wire (keep-alive, Content-Length, HEAD, byte ranges, robots.txt)
and it has to misbehave on demand: per-path faults simulate the failures a crawler meets on the
open web (slow pages, 500s, truncated bodies, wrong content types, redirect tricks, endless
bodies).

World layout (all paths in the manifest are relative to the world root)::

    WORLD_ROOT/manifest.json  {"version": 1, "videos": [...], "gifs": [...]}

URL layout: demo_world/site/urls.py, the one place every page's and media file's path is made.
"""
from __future__ import annotations

from demo_world.site.catalog import MANIFEST_NAME, DemoWorld, GifEntry, VideoEntry
from demo_world.site.cli import build_parser, main
from demo_world.site.faults import FAULT_SPEC_HELP, Fault, parse_fault_spec
from demo_world.site.responses import UnsatisfiableRange, parse_byte_range
from demo_world.site.server import DemoSite

__all__ = [
    "DemoSite", "build_parser", "main", "parse_fault_spec", "parse_byte_range",
    "UnsatisfiableRange", "Fault", "FAULT_SPEC_HELP", "DemoWorld", "VideoEntry", "GifEntry",
    "MANIFEST_NAME",
]
