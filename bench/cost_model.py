"""Benchmark: what one hour of source video costs to turn into training data, and the paper's 7,379 hours.

    .venv/bin/python -m bench.cost_model [--dataset ./data] [--c3d-cpu JSON] [--c3d-gpu JSON | --gpu-clips-per-sec N]
        [--video-fps 30] [--hours 7379] [--gifs 120000] [--out F] [prices: --vcpu-hour-usd ...]

Measured in the run (or read from bench.c3d_speed JSON outputs):
  decode       CPU seconds per frame of OpenCV decoding a 640x360 H.264 video (process CPU time,
               every thread): align's decode of each video, on CPU workers (featurize's own decode
               is in its one-step figures below, on the machine that runs C3D)
  C3D on CPU   bench.c3d_speed's "one step" on this machine (decode, shots, segments and C3D as
               featurize runs them), clips per second; --c3d-cpu JSON reuses a run's output
  C3D on GPU   --c3d-gpu JSON: a bench.c3d_speed output from a GPU machine (its one step), or
               --gpu-clips-per-sec N, a figure measured there; left out when neither is given
  storage      the dataset's tables (--dataset, a featurized dataset such as make demo's): bytes of
               each table per featurized video-hour, and segments per video-hour
Computed: clips per video-hour at featurize's defaults (the video's own frame rate, a snippet
every 8 frames, mirror images: 2 x 3600 x fps / 8), 77 GFLOP each (model.layer_flops); the
hours and dollars of each part, at the prices given (flags: on-demand list prices, us-central1,
as this was written; pass your own). Not measured here, so passed as assumptions: the source
videos' bitrate (--video-mbps) and a GIF's size (--gif-mb). JSON to stdout (and --out), a
markdown table to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench.report import emit_json

PAPER_HOURS = 7379
PAPER_GIFS = 120_000
DECODE_FRAMES = 1500
SNIPPET_STRIDE = 8  # featurize's default --snippet-stride


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="./data", help="a featurized dataset, for storage per video-hour")
    parser.add_argument("--c3d-cpu", help="a bench.c3d_speed JSON output from this CPU (default: run it, short)")
    parser.add_argument("--c3d-gpu", help="a bench.c3d_speed JSON output from a GPU machine")
    parser.add_argument("--gpu-clips-per-sec", type=float, help="one-step C3D clips/s measured on a GPU")
    parser.add_argument("--gpu-name", default="GPU", help="what --gpu-clips-per-sec was measured on")
    parser.add_argument("--video-fps", type=float, default=30.0, help="the source videos' frame rate")
    parser.add_argument("--hours", type=float, default=PAPER_HOURS, help="video-hours to cost (default: the paper's)")
    parser.add_argument("--gifs", type=int, default=PAPER_GIFS, help="GIFs in those hours (default: the paper's)")
    parser.add_argument("--video-mbps", type=float, default=1.0,
                        help="assumed bitrate of the downloaded videos (yt-dlp 'best[ext=mp4]' of 2016-era "
                             "uploads: about 1 Mbit/s at 480p)")
    parser.add_argument("--gif-mb", type=float, default=2.0, help="assumed size of a GIF")
    parser.add_argument("--vcpu-hour-usd", type=float, default=0.056, help="Dataflow batch vCPU-hour")
    parser.add_argument("--gb-hour-usd", type=float, default=0.003557, help="Dataflow batch GB-hour of memory")
    parser.add_argument("--gb-per-vcpu", type=float, default=3.75, help="memory per vCPU of the machine type")
    parser.add_argument("--gpu-hour-usd", type=float, default=11.06,
                        help="one GPU-hour with its share of the machine (an H100 80 GB, a3-highgpu-1g)")
    parser.add_argument("--gb-month-usd", type=float, default=0.020, help="Cloud Storage standard, GB-month")
    parser.add_argument("--out")
    return parser.parse_args(argv)


def decode_cpu_sec_per_frame(frames: int = DECODE_FRAMES) -> dict:
    """OpenCV decoding a 640x360 H.264 video: CPU seconds (all threads) per frame, and frames per wall second."""
    from bench.align_speed import decode_only
    from bench.c3d_speed import synthetic_video

    video = synthetic_video(frames)
    cpu = time.process_time()
    decoded, wall = decode_only(video)
    cpu = time.process_time() - cpu
    return {"frames": decoded, "cpu_sec_per_frame": cpu / decoded, "frames_per_wall_sec": decoded / wall,
            "video": str(video)}


def c3d_figures(path: str) -> dict:
    """A bench.c3d_speed result saved with its --out."""
    return json.loads(Path(path).read_text())


def cpu_c3d_figures(path: str | None) -> dict:
    """bench.c3d_speed on this CPU: read from `path`, or a short run here."""
    if path:
        return c3d_figures(path)
    from bench import c3d_speed

    return c3d_speed.run(c3d_speed.parse_args(["--frames", "200", "--repeats", "1"]))


def storage_per_hour(dataset: str) -> dict:
    """Bytes of each table per featurized video-hour, and segments per video-hour, in `dataset`."""
    from featurizer.dataset import table_store, tables

    features = table_store.read_table(dataset, tables.FEATURES,
                                      columns=["video_sha256", "fps", "video_num_frames"]).to_pylist()
    seconds = {r["video_sha256"]: r["video_num_frames"] / r["fps"] for r in features}
    hours = sum(seconds.values()) / 3600
    if not hours:
        raise SystemExit(f"{dataset} has no featurized video: run make demo (or gifrank featurize) first")
    table_bytes = {spec.name: table_store.table_info(dataset, spec)["bytes"] for spec in tables.STORED_TABLES.values()}
    return {"dataset": dataset, "videos": len(seconds), "video_hours": hours,
            "segments_per_hour": len(features) / hours,
            "table_bytes_per_hour": {name: size / hours for name, size in table_bytes.items() if size}}


def cost(args, decode: dict, cpu_c3d: dict, gpu_clips_per_sec: float | None, storage: dict) -> dict:
    """Per video-hour and for --hours: CPU, GPU and storage, in hours, gigabytes and dollars."""
    frames = 3600 * args.video_fps
    clips = 2 * frames / SNIPPET_STRIDE  # a snippet every 8 frames, and its mirror image
    gflop_per_clip = cpu_c3d["gflop_per_clip"]
    vcpu_hour = args.vcpu_hour_usd + args.gb_per_vcpu * args.gb_hour_usd
    decode_vcpu_h = frames * decode["cpu_sec_per_frame"] / 3600
    # the one step's clips/s kept every CPU of its machine busy: decode, shots and C3D share them
    cpu_c3d_vcpu_h = clips / cpu_c3d["one_step_clips_per_sec"] * cpu_c3d["cpu_count"] / 3600
    gifs_per_hour = args.gifs / args.hours
    gb = {"videos": args.video_mbps * 3600 / 8 / 1000, "gifs": gifs_per_hour * args.gif_mb / 1000,
          "tables": sum(storage["table_bytes_per_hour"].values()) / 1e9}
    per_hour = {
        "frames": frames, "clips": clips, "c3d_pflop": clips * gflop_per_clip / 1e6,
        "decode_vcpu_hours": decode_vcpu_h, "decode_usd": decode_vcpu_h * vcpu_hour,
        "cpu_only_c3d_vcpu_hours": cpu_c3d_vcpu_h, "cpu_only_c3d_usd": cpu_c3d_vcpu_h * vcpu_hour,
        "storage_gb": gb, "storage_usd_per_month": sum(gb.values()) * args.gb_month_usd,
    }
    per_hour["cpu_path_usd"] = per_hour["decode_usd"] + per_hour["cpu_only_c3d_usd"]
    if gpu_clips_per_sec:
        per_hour["gpu_c3d_hours"] = clips / gpu_clips_per_sec / 3600
        per_hour["gpu_c3d_usd"] = per_hour["gpu_c3d_hours"] * args.gpu_hour_usd
        per_hour["gpu_path_usd"] = per_hour["decode_usd"] + per_hour["gpu_c3d_usd"]
    scaled = {key: value * args.hours for key, value in per_hour.items() if isinstance(value, float)}
    scaled["storage_gb"] = sum(gb.values()) * args.hours
    return {"per_video_hour": per_hour, "total": scaled, "hours": args.hours, "vcpu_hour_usd": vcpu_hour}


def markdown(result: dict) -> str:
    per, total, hours = result["per_video_hour"], result["total"], result["hours"]
    rows = [
        ("decode for align (CPU workers)", f"{per['decode_vcpu_hours']:.3f} vCPU-h", f"${per['decode_usd']:.3f}",
         f"{total['decode_vcpu_hours']:,.0f} vCPU-h, ${total['decode_usd']:,.0f}"),
        (f"C3D ({per['clips']:,.0f} clips, {per['c3d_pflop']:.2f} PFLOP), CPU only",
         f"{per['cpu_only_c3d_vcpu_hours']:.1f} vCPU-h", f"${per['cpu_only_c3d_usd']:.2f}",
         f"{total['cpu_only_c3d_vcpu_hours']:,.0f} vCPU-h, ${total['cpu_only_c3d_usd']:,.0f}"),
    ]
    if "gpu_c3d_hours" in per:
        rows.append((f"C3D on {result['gpu_name']}", f"{per['gpu_c3d_hours'] * 3600:.0f} GPU-s",
                     f"${per['gpu_c3d_usd']:.3f}",
                     f"{total['gpu_c3d_hours']:,.1f} GPU-h, ${total['gpu_c3d_usd']:,.0f}"))
    storage = ", ".join(f"{name} {size:.3f}" for name, size in per["storage_gb"].items())
    rows.append((f"storage ({storage} GB)", f"{sum(per['storage_gb'].values()):.3f} GB",
                 f"${per['storage_usd_per_month']:.4f}/month",
                 f"{total['storage_gb']:,.0f} GB, ${total['storage_usd_per_month']:,.0f}/month"))
    for path in ("cpu", "gpu"):
        if f"{path}_path_usd" in per:
            rows.append((f"**compute, {path.upper()} C3D**", "", f"**${per[f'{path}_path_usd']:.2f}**",
                         f"**${total[f'{path}_path_usd']:,.0f}**"))
    lines = [f"| part | per video-hour | cost | {hours:,.0f} hours |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def run(args) -> dict:
    decode = decode_cpu_sec_per_frame()
    cpu_c3d = cpu_c3d_figures(args.c3d_cpu)
    cpu_c3d.setdefault("cpu_count", os.cpu_count())  # outputs from before c3d_speed recorded it
    gpu = c3d_figures(args.c3d_gpu) if args.c3d_gpu else None
    gpu_clips = gpu["one_step_clips_per_sec"] if gpu else args.gpu_clips_per_sec
    gpu_name = gpu["device"] if gpu else args.gpu_name
    storage = storage_per_hour(args.dataset)
    result = cost(args, decode, cpu_c3d, gpu_clips, storage)
    result.update({
        "gpu_name": gpu_name, "decode": decode, "storage": storage,
        "c3d": {"gflop_per_clip": cpu_c3d["gflop_per_clip"], "cpu_device": cpu_c3d["device"],
                "cpu_one_step_clips_per_sec": cpu_c3d["one_step_clips_per_sec"],
                "cpu_bare_model_clips_per_sec": cpu_c3d["bare_model_clips_per_sec"],
                "gpu_one_step_clips_per_sec": gpu_clips},
        "assumed": {"video_fps": args.video_fps, "video_mbps": args.video_mbps, "gif_mb": args.gif_mb,
                    "gifs": args.gifs},
    })
    return result


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    emit_json(result, args.out)
    print(markdown(result), file=sys.stderr)


if __name__ == "__main__":
    main()
