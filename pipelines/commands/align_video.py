"""`gifrank align`: place GIFs in their source video, one JSON line per GIF.

    gifrank align --video V.mp4 --gif A.gif [--gif B.gif ...]

The video is decoded and hashed once; every GIF is then aligned against that index.
Each GIF gets one line on stdout, in the order given:

    {"gif": "A.gif", "aligned": true, "start_sec": 3.56, "end_sec": 6.0, "start_frame": 89,
     "end_frame": 150, "speed": 1.0, "confidence": 0.93, "inlier_share": 1.0,
     "mirrored": false, "crop": null, "direction": "forward", "reason": null}

Times, frames and speed are null when "aligned" is false, and "reason" says why.
start/end are the span of the video the GIF shows; direction says how it plays it: forward,
reverse, boomerang (forward then back) or reverse-forward; speed is the mean video seconds per
GIF second. end_frame is exclusive; crop is [x, y, w, h] in video pixels or null.

Exit status: 0 when every input could be read, whether or not its GIFs aligned (a
one-frame GIF is read fine and comes back unaligned, reason "too_few_frames: ...");
1 when some GIF could not be read (its line says "aligned": false with the reason, and a
one-line warning goes to stderr; the other GIFs are still aligned); 2 when the video
cannot be read (a one-line message on stderr, no output lines) or the arguments are wrong.
"""
from __future__ import annotations

import argparse
import json
import sys

EXIT_OK = 0
EXIT_UNREADABLE_GIF = 1
EXIT_UNREADABLE_VIDEO = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gifrank align",
        description="Align GIFs to their source video (DCT perceptual hashes, robust constant-speed fit); "
                    "prints one JSON object per GIF per line.",
        epilog="Exit status: 0 all inputs read; 1 some GIF unreadable (reported on its line); "
               "2 video unreadable or bad arguments.")
    parser.add_argument("--video", required=True, help="the source video")
    parser.add_argument("--gif", action="append", required=True, dest="gifs", metavar="GIF",
                        help="a GIF cut from the video (repeat for several), or a glob pattern of them "
                             "(quoted: 'gifs/*.gif')")
    parser.add_argument("--min-speed", type=float, default=0.25, help="slowest playback speed considered")
    parser.add_argument("--max-speed", type=float, default=4.0, help="fastest playback speed considered")
    return parser


def _rounded(value, digits: int = 4):
    return round(value, digits) if isinstance(value, float) else value


def _line(gif: str, alignment) -> dict:
    return {
        "gif": gif, "aligned": alignment.aligned,
        "start_sec": _rounded(alignment.start_sec), "end_sec": _rounded(alignment.end_sec),
        "start_frame": alignment.start_frame, "end_frame": alignment.end_frame,
        "speed": _rounded(alignment.speed), "confidence": _rounded(alignment.confidence),
        "inlier_share": _rounded(alignment.inlier_share), "mirrored": alignment.mirrored,
        "crop": list(alignment.crop) if alignment.crop else None, "direction": alignment.direction,
        "reason": alignment.reason,
    }


def _refused_line(gif: str, reason: str) -> dict:
    return {"gif": gif, "aligned": False, "start_sec": None, "end_sec": None, "start_frame": None,
            "end_frame": None, "speed": None, "confidence": 0.0, "inlier_share": 0.0, "mirrored": False,
            "crop": None, "direction": None, "reason": reason}


def main(argv=None) -> int:
    parser = build_parser()
    try:
        opts = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if not 0 < opts.min_speed <= opts.max_speed:
        print("gifrank align: error: need 0 < --min-speed <= --max-speed", file=sys.stderr)
        return EXIT_UNREADABLE_VIDEO
    from featurizer.dataset.storage import expand_patterns

    try:
        gifs = expand_patterns(opts.gifs)
    except (FileNotFoundError, ValueError) as error:
        print(f"gifrank align: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE_VIDEO  # bad arguments: 2, as argparse's
    # Lazy: the media stack loads only when there is work, so --help starts instantly.
    from featurizer.align.aligner import align_gif
    from featurizer.align.video_index import index_video
    from featurizer.media.errors import TOO_FEW_FRAMES, MediaError

    try:
        index = index_video(opts.video)
    except (MediaError, OSError) as error:
        print(f"gifrank align: error: cannot read video {opts.video}: {error}", file=sys.stderr)
        return EXIT_UNREADABLE_VIDEO
    status = EXIT_OK
    for gif in gifs:
        try:
            line = _line(gif, align_gif(index, gif, (opts.min_speed, opts.max_speed)))
        except MediaError as error:
            line = _refused_line(gif, f"{error.kind}: {error.detail}")
            if error.kind != TOO_FEW_FRAMES:  # a one-frame GIF was read fine; it just cannot align
                print(f"gifrank align: warning: cannot read GIF {gif}: {line['reason']}", file=sys.stderr)
                status = EXIT_UNREADABLE_GIF
        except OSError as error:
            line = _refused_line(gif, f"unreadable: {error}")
            print(f"gifrank align: warning: cannot read GIF {gif}: {line['reason']}", file=sys.stderr)
            status = EXIT_UNREADABLE_GIF
        print(json.dumps(line), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
