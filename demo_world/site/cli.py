"""Command line: `gifrank demo-site` (also `python -m demo_world.site`)."""
from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from demo_world.site.faults import FAULT_SPEC_HELP, parse_fault_spec
from demo_world.site.server import DemoSite


def _fault_argument(text: str) -> tuple[str, str]:
    path, has_separator, spec = text.partition("=")
    if not has_separator or not path.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"expected PATH=SPEC with PATH starting with '/', got {text!r}")
    try:
        parse_fault_spec(spec)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return path, spec


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gifrank demo-site",
        description="Serve a demo GIF world (WORLD/manifest.json) as a small website over HTTP, "
                    "optionally with injected latency and faults, for crawling it with gifrank.",
        epilog="Fault specs: " + FAULT_SPEC_HELP + ". Example: "
               "--fault /gif/g00001=500 --fault /media/gifs/g00002.gif=truncate",
    )
    parser.add_argument("--world", default=Path("data/world"), type=Path, metavar="DIR",
                        help="world root directory containing manifest.json; the default world is "
                             "built there first if it has none (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: %(default)s, loopback only)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port to bind; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--page-size", type=int, default=24, metavar="N",
                        help="GIFs per listing page (default: %(default)s)")
    parser.add_argument("--latency-ms", type=int, default=0, metavar="N",
                        help="delay every response by N milliseconds (default: %(default)s)")
    parser.add_argument("--fault", action="append", default=[], type=_fault_argument,
                        metavar="PATH=SPEC", help="inject a fault on an exact URL path; repeatable")
    parser.add_argument("--private-gif", action="append", default=[], metavar="GIF_ID",
                        help="list this GIF under /private/ (disallowed by robots.txt); repeatable")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not (args.world / "manifest.json").exists():
        from demo_world.world import build_world  # lazy: only needed to build a missing world
        build_world(args.world)
    site = DemoSite(args.world, host=args.host, port=args.port, page_size=args.page_size,
                    latency_ms=args.latency_ms, faults=dict(args.fault),
                    private_gif_ids=args.private_gif, verbose=args.verbose)
    # `kill`/terminate() should shut down as cleanly as Ctrl-C.
    previous_sigterm_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        with site:
            print(f"Serving demo site for {site.world.root} at {site.url}/ (Ctrl-C to stop)",
                  flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        print("Demo site stopped", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm_handler)
    return 0
