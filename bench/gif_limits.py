"""Benchmark: hostile GIFs through `gifrank align`: peak memory on a huge canvas, work before a bomb is refused.

    .venv/bin/python -m bench.gif_limits [--baseline REV] [--out result.json]

Three GIFs made here, byte by byte around images Pillow encodes:
  big_canvas  a 4096x4096 canvas, 21 one-colour frames (the most MAX_GIF_DECODED_BYTES
              allows there), colours alternating: 285 KB that decode to 1 GiB of RGB frames;
  lone_pixel  a 1x1 canvas under 3,000 images of 4096x4096 (40.7 MB): 50 G pixels of LZW
              work for 3,000 shown;
  reference   an ordinary 64x48 GIF of 12 frames.
Each goes through the real command, `gifrank align --video V --gif G` (V: a 6 s ffmpeg test
pattern), in a process of its own. Reported per GIF: the process's peak RSS and CPU seconds
(wait4's rusage), the CPU over the reference run's (start-up and the video's index are the
same in every run, so that is the GIF's own cost), and the reason on its line. Then read_gif
decodes every frame of big_canvas alone in a process: its peak RSS against the 1 GiB cap.
--baseline REV runs the same on git revision REV's featurizer and pipelines (`git archive`
into a temporary folder, the same virtualenv), so before and after are measured in one run.
Targets: big_canvas peak RSS of `gifrank align` <= 1.2 GB; read_gif's peak <= 1.2x
MAX_GIF_DECODED_BYTES; lone_pixel refused (decompression_bomb) before any image is decoded,
at no CPU cost beyond the reference run's.

Measured (2 shared cores; --baseline 9a289b4, the decoder before GifReader):
  big_canvas  gifrank align peak RSS 225 MB (before: 2,383 MB), CPU 2.7 s (before: 8.6 s)
  lone_pixel  refused at its first image: 0.33 s CPU, the reference run's 0.35 s (before: all
              3,000 images decoded, 112.8 s CPU, then "longer than the video": not refused)
  read_gif    big_canvas's 1,008 MiB of frames at a peak of 1,120 MiB, 1.09x the cap (before: 1.36x)
"""
from __future__ import annotations

import argparse
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from PIL import Image

from bench.report import emit_json
from demo_world.videos import ffmpeg_exe, run_ffmpeg
from featurizer.media.gif import MAX_GIF_DECODED_BYTES

REPO = Path(__file__).resolve().parents[1]
HUGE_SIDE = 4096
BIG_CANVAS_FRAMES = 21  # 2**30 // (4096 * 4096 * 3)
LONE_PIXEL_FRAMES = 3000
TWO_COLOURS = bytes([0, 0, 0, 255, 255, 255])
TARGET_PEAK_BYTES = 1.2e9
_GLOBAL_TWO_COLOURS = 0x80  # a global colour table of 2 entries
_DELAY_CS = 10


def encoded_image(width: int, height: int, colour: int) -> bytes:
    """A one-colour image's descriptor and LZW data as Pillow encodes them, to be placed in GIFs
    of any canvas: Pillow itself would grow the canvas to fit."""
    picture = Image.new("P", (width, height), colour)
    picture.putpalette(TWO_COLOURS)
    buffer = io.BytesIO()
    picture.save(buffer, "GIF", optimize=False)  # keeps the palette: the pixels stay index `colour`
    data = buffer.getvalue()
    packed = data[10]
    pos = 13 + (3 << ((packed & 0x07) + 1) if packed & 0x80 else 0)
    while data[pos] == 0x21:  # extensions Pillow may write before the image
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    assert data[pos] == 0x2C and data[-1] == 0x3B, "Pillow wrote an unexpected GIF layout"
    return data[pos:-1]


def gif_file(width: int, height: int, images: list[bytes]) -> bytes:
    """A GIF89a of that canvas showing the images in turn, each for _DELAY_CS."""
    control = b"!\xf9\x04" + struct.pack("<BHB", 1 << 2, _DELAY_CS, 0) + b"\x00"  # disposal 1: keep
    return b"".join([b"GIF89a", struct.pack("<HHBBB", width, height, _GLOBAL_TWO_COLOURS, 0, 0), TWO_COLOURS,
                     *(control + image for image in images), b";"])


def big_canvas_gif(frames: int = BIG_CANVAS_FRAMES, side: int = HUGE_SIDE) -> bytes:
    black, white = encoded_image(side, side, 0), encoded_image(side, side, 1)
    return gif_file(side, side, [(black, white)[i % 2] for i in range(frames)])


def lone_pixel_bomb(frames: int = LONE_PIXEL_FRAMES, side: int = HUGE_SIDE) -> bytes:
    return gif_file(1, 1, [encoded_image(side, side, 1)] * frames)


def reference_gif() -> bytes:
    pictures = []
    for i in range(12):
        picture = Image.new("P", (64, 48), 0)
        picture.putpalette(TWO_COLOURS)
        picture.paste(1, (4 * i, 8, 4 * i + 16, 40))
        pictures.append(picture)
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return buffer.getvalue()


def pattern_video(path: Path) -> Path:
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=320x240:rate=25:duration=6", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(path)])
    return path


def code_of(revision: str, folder: Path) -> Path:
    """featurizer and pipelines as they were at `revision`, unpacked into folder."""
    archive = subprocess.run(["git", "archive", "--format=tar", revision, "featurizer", "pipelines"], cwd=REPO,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _run(command: list[str], code: Path) -> tuple[int, list[str], str, float, float]:
    """A process of its own on `code`'s packages: exit status, stdout lines, stderr, and its peak
    RSS (MB) and CPU seconds from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=code, env={**os.environ, "PYTHONPATH": str(code)},
                                   stdout=out, stderr=err)
        _pid, status, usage = os.wait4(process.pid, 0)
        out.seek(0)
        err.seek(0)
        lines, errors = out.read().decode().splitlines(), err.read().decode()
    return (os.waitstatus_to_exitcode(status), lines, errors, round(usage.ru_maxrss / 1024, 1),
            round(usage.ru_utime + usage.ru_stime, 2))


def run_align(video: Path, gif: Path, code: Path = REPO) -> dict:
    """`gifrank align` on one GIF: peak RSS, CPU, and the reason on its line."""
    status, lines, errors, peak_mb, cpu_sec = _run(
        [sys.executable, "-m", "pipelines.cli", "align", "--video", str(video), "--gif", str(gif)], code)
    if status not in (0, 1) or len(lines) != 1:
        raise RuntimeError(f"gifrank align failed ({status}): {errors[-2000:]}")
    return {"exit": status, "peak_rss_mb": peak_mb, "cpu_sec": cpu_sec, "reason": json.loads(lines[0])["reason"]}


def run_read_gif(gif: Path, code: Path = REPO) -> dict:
    """read_gif, every frame decoded, alone in a process: its peak RSS against MAX_GIF_DECODED_BYTES."""
    status, lines, errors, peak_mb, cpu_sec = _run(
        [sys.executable, "-c", "import sys; from featurizer.media.gif import read_gif; "
                               "print(read_gif(sys.argv[1]).frames.nbytes)", str(gif)], code)
    if status != 0:
        raise RuntimeError(f"read_gif failed ({status}): {errors[-2000:]}")
    return {"frames_mb": round(int(lines[0]) / 2**20, 1), "peak_rss_mb": peak_mb, "cpu_sec": cpu_sec,
            "peak_over_cap": round(peak_mb * 2**20 / MAX_GIF_DECODED_BYTES, 3)}


def measure(video: Path, gifs: dict[str, Path], code: Path) -> dict:
    runs = {name: run_align(video, path, code) for name, path in gifs.items()}
    for run in runs.values():
        run["cpu_over_reference_sec"] = round(run["cpu_sec"] - runs["reference"]["cpu_sec"], 2)
    return {"align": runs, "read_gif_big_canvas": run_read_gif(gifs["big_canvas"], code)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also run git revision REV's code (e.g. HEAD)")
    parser.add_argument("--out", help="also write the JSON result here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gifrank-bench-gif-") as work_dir:
        work = Path(work_dir)
        video = pattern_video(work / "pattern.mp4")
        made = {"reference": reference_gif(), "big_canvas": big_canvas_gif(), "lone_pixel": lone_pixel_bomb()}
        gifs = {}
        for name, data in made.items():
            gifs[name] = work / f"{name}.gif"
            gifs[name].write_bytes(data)
        report = {"gifs": {name: {"bytes": len(data)} for name, data in made.items()},
                  "now": measure(video, gifs, REPO)}
        if args.baseline:
            report["baseline"] = {"revision": args.baseline,
                                  **measure(video, gifs, code_of(args.baseline, work / "baseline"))}
    now = report["now"]["align"]
    report["targets"] = {
        "big_canvas_peak_rss_ok": now["big_canvas"]["peak_rss_mb"] * 2**20 <= TARGET_PEAK_BYTES,
        "lone_pixel_refused": (now["lone_pixel"]["reason"] or "").startswith("decompression_bomb"),
        "read_gif_peak_within_1.2x_cap": report["now"]["read_gif_big_canvas"]["peak_over_cap"] <= 1.2,
    }
    emit_json(report, args.out)
    return report


if __name__ == "__main__":
    main()
