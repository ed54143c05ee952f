"""The seeded demo world: source videos with known shots, GIFs made from them by simulated users, metadata.

Real GIF sites and YouTube are out of reach, so the demo carries its own world, built once per
config and cached under a root folder:

    root/manifest.json   the truth and metadata (written last: no manifest means no world)
    root/videos/v0001.mp4   (.webm, .mkv: a share of videos ship as sources do, see source_formats)
    root/gifs/g00001.gif

A share of videos is re-shipped after rendering the way the web ships video (turned with a
display matrix, pillarboxed or letterboxed in HD, VP9, AV1); frames and timing stay those of the
rendered video, so the truth holds in frames of the video as a player shows it. A share of GIFs
is made with the web_gifs styles (watermarks, boomerangs, slow motion, optimisers), from the
picture a player shows (inside any bars, upright).

Everything random is drawn from the seed while planning, before any rendering, so the manifest
depends only on the config (and on ffmpeg's decoder for the motion-energy rule scores).
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from demo_world import gifmaker
from demo_world.source_formats import SOURCE_FORMATS, encode_source
from demo_world.videos import (
    FOOTAGE,
    PROCEDURAL_KINDS,
    Footage,
    RenderedShot,
    ShotSource,
    decode_frames,
    procedural_graph,
    render_video,
)
from demo_world.web_gifs import STYLES as WEB_STYLES

MANIFEST_VERSION = 1
# Bump when generation changes in a way the config does not capture, so cached worlds rebuild.
GENERATOR_REVISION = 2
MANIFEST_NAME = "manifest.json"

CATEGORIES = ("Sports", "Gaming", "Music", "Comedy", "Pets & Animals", "Entertainment", "Science & Technology")
CATEGORY_TOPICS = {
    "Sports": ("downhill", "skate", "parkour", "surf", "bmx", "goal", "dunk", "marathon"),
    "Gaming": ("speedrun", "boss fight", "glitch", "retro", "pixel art", "level", "combo", "esports"),
    "Music": ("drop", "synth", "visualizer", "remix", "live set", "beat", "chorus", "bassline"),
    "Comedy": ("fail", "prank", "sketch", "blooper", "reaction", "parody", "awkward", "deadpan"),
    "Pets & Animals": ("bunny", "kitten", "puppy", "zoomies", "birds", "squirrel", "parrot", "hamster"),
    "Entertainment": ("trailer", "behind the scenes", "montage", "highlights", "premiere", "teaser", "supercut",
                      "recap"),
    "Science & Technology": ("fractal", "cellular automaton", "simulation", "test pattern", "timelapse", "codec",
                             "physics", "math"),
}
VIDEO_TITLE_TEMPLATES = ("{Topic} compilation #{n}", "Best {topic} moments of {year}", "{Topic} - full video",
                         "Top {n} {topic} clips", "Insane {topic} ({year})", "{Topic} session, part {n}")
GIF_TITLE_TEMPLATES = ("{topic}", "when the {topic} hits", "{topic} reaction", "that {topic} though",
                       "{Topic} loop", "me watching {topic}", "{topic} mood")
REACTION_TAGS = ("reaction", "lol", "mood", "loop", "wow", "omg", "funny", "cool", "satisfying", "epic")
VIDEO_EPOCH = datetime.date(2016, 1, 1)
VIDEO_UPLOAD_SPAN_DAYS = 3400
GIF_UPLOAD_DELAY_DAYS = (1, 700)

MIN_SHOT_SEC = 0.4
SHORT_SHOT_SHARE = 0.15
DISSOLVE_NEIGHBOUR_MIN_SEC = 1.6  # both shots around a dissolve keep clean frames outside it
DISSOLVE_SEC = (0.3, 0.7)
MIN_FOOTAGE_SPAN_SEC = 1.0

PLAIN_FORMAT = "h264"  # the format videos are rendered in
HD_FORMATS = ("pillarbox_hd", "letterbox_hd")
LETTERBOX_ASPECT = 2.35  # letterboxed videos are rendered this wide, as a film is
# Shares of videos re-shipped in each source format after rendering (the rest stay H.264 MP4):
# about a third, every kind at least once in the default 32. HD ones go to the shortest videos: decoding
# 1280x720 costs.
SOURCE_FORMAT_SHARES = (("turned_90", 0.06), ("turned_270", 0.03), ("pillarbox_hd", 0.03), ("letterbox_hd", 0.03),
                        ("vp9", 0.09), ("av1", 0.06))
# Shares of GIFs made with a web_gifs style, as GIF sites make them (the rest: gifmaker's sampled styles).
WEB_STYLE_SHARES = (("watermark", 0.10), ("boomerang", 0.06), ("half_speed", 0.05), ("gifsicle_O3_lossy", 0.05),
                    ("imagemagick_optimize", 0.03), ("reverse", 0.02), ("moving_sticker", 0.02),
                    ("caption_over", 0.02))


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 7
    num_videos: int = 32
    min_duration_sec: float = 20.0
    max_duration_sec: float = 60.0
    width: int = 320
    height: int = 180
    fps: float = 25.0
    gifs_per_video_min: int = 3
    gifs_per_video_max: int = 7
    outlier_share: float = 0.15
    real_footage_share: float = 0.5  # share of videos with shots of real footage
    dissolve_share: float = 0.25  # share of shot transitions that are dissolves rather than cuts
    mean_shot_sec: float = 3.5
    source_format_shares: tuple[tuple[str, float], ...] = SOURCE_FORMAT_SHARES
    web_style_shares: tuple[tuple[str, float], ...] = WEB_STYLE_SHARES

    def __post_init__(self):
        if not (self.width % 2 == 0 and self.height % 2 == 0 and 0 < self.width <= 640 and 0 < self.height <= 360):
            raise ValueError("video size must be even and at most 640x360")
        if not gifmaker.MIN_GIF_SEC <= self.min_duration_sec <= self.max_duration_sec:
            raise ValueError(f"video durations must satisfy {gifmaker.MIN_GIF_SEC} <= min <= max")
        if not 1 <= self.gifs_per_video_min <= self.gifs_per_video_max:
            raise ValueError("need 1 <= gifs_per_video_min <= gifs_per_video_max")
        if self.num_videos < 1:
            raise ValueError("need at least one video")
        for shares, known, what in ((self.source_format_shares, SOURCE_FORMATS, "source format"),
                                    (self.web_style_shares, WEB_STYLES, "web GIF style")):
            unknown = [name for name, _ in shares if name not in known]
            if unknown or any(share < 0 for _, share in shares) or sum(share for _, share in shares) > 1:
                raise ValueError(f"{what} shares must name known ones ({unknown or 'ok'}) and sum to at most 1")

    @classmethod
    def tiny(cls, seed: int = 7) -> WorldConfig:
        """Three short small videos with two GIFs each: for tests."""
        return cls(seed=seed, num_videos=3, min_duration_sec=6.0, max_duration_sec=8.0, width=160, height=90,
                   gifs_per_video_min=2, gifs_per_video_max=2, real_footage_share=0.34, dissolve_share=0.34,
                   mean_shot_sec=1.8, source_format_shares=(), web_style_shares=())

    @classmethod
    def tiny_wild(cls, seed: int = 7) -> WorldConfig:
        """Six short small videos, one per re-shipped source format, and every web GIF style: for tests."""
        formats = tuple(name for name, _ in SOURCE_FORMAT_SHARES)
        styles = tuple(name for name, _ in WEB_STYLE_SHARES)
        return cls(seed=seed, num_videos=len(formats), min_duration_sec=6.0, max_duration_sec=8.0, width=160,
                   height=90, gifs_per_video_min=3, gifs_per_video_max=3, real_footage_share=0.5,
                   dissolve_share=0.25, mean_shot_sec=1.8,
                   source_format_shares=tuple((name, 1 / len(formats)) for name in formats),
                   web_style_shares=tuple((name, 1 / 18) for name in styles))

    def fingerprint(self) -> str:
        payload = json.dumps({"generator": GENERATOR_REVISION, "config": dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class World:
    root: Path
    manifest: dict

    @property
    def videos(self) -> list[dict]:
        return self.manifest["videos"]

    @property
    def gifs(self) -> list[dict]:
        return self.manifest["gifs"]

    def video(self, video_id: str) -> dict:
        return next(v for v in self.videos if v["video_id"] == video_id)

    def gif(self, gif_id: str) -> dict:
        return next(g for g in self.gifs if g["gif_id"] == gif_id)

    def video_path(self, video_id: str) -> Path:
        return self.root / self.video(video_id)["path"]

    def gif_path(self, gif_id: str) -> Path:
        return self.root / self.gif(gif_id)["path"]


@dataclass
class GifPlan:
    gif_id: str
    candidates: list[tuple[int, int]]
    outlier: bool
    choice_draw: float
    view_noise: float
    style: dict
    metadata: dict
    web_style: str | None = None  # a web_gifs style name, or None for gifmaker's sampled style


@dataclass
class VideoPlan:
    video_id: str
    num_frames: int
    shots: list[tuple[int, int]]
    transitions: list[dict]
    rendered: list[RenderedShot]
    popularity: float
    metadata: dict
    gifs: list[GifPlan] = field(default_factory=list)
    source_format: str = PLAIN_FORMAT
    size: tuple[int, int] = (0, 0)  # rendered size; also the size GIF makers decode the shown picture at


def _rng(seed: int, *path: int) -> np.random.Generator:
    """Independent stream per (purpose, item), so adding an item never shifts another's draws."""
    return np.random.default_rng([seed, *path])


def _shot_lengths(rng: np.random.Generator, num_frames: int, fps: float, mean_shot_sec: float) -> list[int]:
    min_frames = max(2, round(MIN_SHOT_SEC * fps))
    lengths: list[int] = []
    while sum(lengths) < num_frames:
        if rng.random() < SHORT_SHOT_SHARE:
            seconds = rng.uniform(MIN_SHOT_SEC, 1.2)
        else:
            seconds = float(np.clip(rng.lognormal(np.log(mean_shot_sec), 0.5), MIN_SHOT_SEC, 4 * mean_shot_sec))
        lengths.append(max(min_frames, round(seconds * fps)))
    lengths[-1] -= sum(lengths) - num_frames
    if lengths[-1] < min_frames and len(lengths) > 1:
        remainder = lengths.pop()
        lengths[-1] += remainder
    return lengths


def _footage_shot(rng: np.random.Generator, wanted: int, fps: float) -> tuple[ShotSource, int]:
    """A cut-free span of real footage, as long as wanted if the span allows; returns (source, length)."""
    footage: Footage = FOOTAGE[rng.integers(len(FOOTAGE))]
    spans = [(a, b) for a, b in footage.cut_free_spans_sec() if b - a >= MIN_FOOTAGE_SPAN_SEC]
    start_sec, end_sec = spans[rng.integers(len(spans))]
    first, last = int(np.ceil(start_sec * fps)), int(np.floor(end_sec * fps))
    length = min(wanted, last - first)
    start = first + int(rng.integers(0, last - first - length + 1))
    return ShotSource(footage.file, footage_start_sec=start / fps), length


def plan_video_shots(rng: np.random.Generator, config: WorldConfig, num_frames: int, with_footage: bool,
                     size: tuple[int, int] | None = None):
    """Shot sources and lengths, then which transitions dissolve. Returns (shots, transitions, rendered).

    size: the rendered size when not the config's (letterboxed videos are rendered wider)."""
    fps = config.fps
    width, height = size or (config.width, config.height)
    lengths = _shot_lengths(rng, num_frames, fps, config.mean_shot_sec)
    footage_sources: list[ShotSource | None] = [None] * len(lengths)
    if with_footage and len(lengths) > 1:
        count = min(len(lengths) - 1, int(rng.integers(1, 4)))
        for index in sorted(rng.choice(len(lengths), size=count, replace=False)):
            footage_sources[index], length = _footage_shot(rng, lengths[index], fps)
            # Footage spans are short: hand the frames it cannot fill to the nearest procedural shot.
            spare = lengths[index] - length
            lengths[index] = length
            receiver = min((i for i in range(len(lengths)) if footage_sources[i] is None and i != index),
                           key=lambda i: abs(i - index))
            lengths[receiver] += spare
    sources: list[ShotSource] = []
    previous_kind = None
    for source in footage_sources:
        if source is None:
            kind = str(rng.choice([k for k in PROCEDURAL_KINDS if k != previous_kind]))
            source = ShotSource(kind, procedural_graph(kind, rng, width, height, fps))
        sources.append(source)
        previous_kind = source.kind

    boundaries = np.cumsum([0, *lengths]).tolist()
    shots = list(zip(boundaries, boundaries[1:]))
    min_neighbour = DISSOLVE_NEIGHBOUR_MIN_SEC * fps
    eligible = [i for i in range(len(shots) - 1)
                if sources[i].graph and sources[i + 1].graph
                and lengths[i] >= min_neighbour and lengths[i + 1] >= min_neighbour]
    dissolve_count = min(len(eligible), round(config.dissolve_share * (len(shots) - 1)))
    dissolves = set(rng.choice(eligible, size=dissolve_count, replace=False).tolist()) if dissolve_count else set()
    transitions = []
    for i in range(len(shots) - 1):
        boundary = shots[i][1]
        if i in dissolves:
            mixed = max(3, round(rng.uniform(*DISSOLVE_SEC) * fps))
            start = boundary - mixed // 2
            transitions.append({"kind": "dissolve", "start_frame": start, "end_frame": start + mixed})
        else:
            transitions.append({"kind": "cut", "frame": boundary})
    return shots, transitions, _rendered_shots(shots, transitions, sources)


def _rendered_shots(shots, transitions, sources) -> list[RenderedShot]:
    """Frames each shot must supply: a dissolve needs the outgoing shot until its end and the
    incoming shot from one frame before its start (xfade's first frame is all outgoing)."""
    rendered = []
    for i, (start, end) in enumerate(shots):
        before = transitions[i - 1] if i > 0 else None
        after = transitions[i] if i < len(transitions) else None
        out_start = before["start_frame"] - 1 if before and before["kind"] == "dissolve" else start
        out_end = after["end_frame"] if after and after["kind"] == "dissolve" else end
        rendered.append(RenderedShot(sources[i], out_start, out_end))
    return rendered


def _title(rng: np.random.Generator, templates, topic: str, year: int) -> str:
    template = str(rng.choice(templates))
    return template.format(topic=topic, Topic=topic.capitalize(), n=int(rng.integers(2, 21)), year=year)


def _video_metadata(rng: np.random.Generator, category: str) -> dict:
    topics = CATEGORY_TOPICS[category]
    upload = VIDEO_EPOCH + datetime.timedelta(days=int(rng.integers(0, VIDEO_UPLOAD_SPAN_DAYS)))
    topic = str(rng.choice(topics))
    extra = rng.choice([t for t in topics if t != topic], size=int(rng.integers(2, 5)), replace=False)
    return {"title": _title(rng, VIDEO_TITLE_TEMPLATES, topic, upload.year), "category": category,
            "tags": [topic, *map(str, extra), category.lower()], "upload_date": upload.isoformat()}


def _gif_metadata(rng: np.random.Generator, video_meta: dict) -> dict:
    video_upload = datetime.date.fromisoformat(video_meta["upload_date"])
    upload = video_upload + datetime.timedelta(days=int(rng.integers(*GIF_UPLOAD_DELAY_DAYS)))
    topic = str(rng.choice(video_meta["tags"][:-1]))
    reactions = rng.choice(REACTION_TAGS, size=int(rng.integers(1, 4)), replace=False)
    return {"title": _title(rng, GIF_TITLE_TEMPLATES, topic, upload.year), "category": video_meta["category"],
            "tags": [topic, *map(str, reactions)], "upload_date": upload.isoformat()}


def _exact_share(rng: np.random.Generator, total: int, share: float, at_least_one: bool) -> set[int]:
    """Indices of exactly round(share * total) items (at least one if asked and share > 0)."""
    count = round(share * total)
    if at_least_one and share > 0:
        count = max(1, count)
    return set(rng.permutation(total)[:min(count, total)].tolist())


def _counts(shares, total: int) -> list[tuple[str, int]]:
    """Exact item counts per named share (rounded: a small world may have none of a rare kind)."""
    counts = [(name, round(share * total)) for name, share in shares]
    if sum(count for _, count in counts) > total:
        raise ValueError(f"shares {shares} need more than {total} items")
    return counts


def _source_formats(config: WorldConfig, durations: list[float]) -> list[str]:
    """The format each video ships in: HD ones on the shortest videos, the others on random ones."""
    counts = _counts(config.source_format_shares, config.num_videos)
    rng = _rng(config.seed, 5)
    hd = [name for name, count in counts if name in HD_FORMATS for _ in range(count)]
    rest = [name for name, count in counts if name not in HD_FORMATS for _ in range(count)]
    shortest = sorted(range(config.num_videos), key=lambda v: (durations[v], v))[:len(hd)]
    formats = [PLAIN_FORMAT] * config.num_videos
    for v, name in zip(shortest, rng.permutation(hd).tolist() if hd else []):
        formats[v] = name
    others = [v for v in rng.permutation(config.num_videos).tolist() if v not in shortest]
    for v, name in zip(others, rest):
        formats[v] = name
    return formats


def _rendered_size(config: WorldConfig, source_format: str) -> tuple[int, int]:
    if source_format == "letterbox_hd":  # a wide film, so the HD frame gets bars above and below
        return config.width, max(2, round(config.width / LETTERBOX_ASPECT / 2) * 2)
    return config.width, config.height


def _picture_size(size: tuple[int, int], source_format: str) -> tuple[int, int]:
    """Size of the shown picture (bars left out) at the rendered scale: GIF makers decode it so."""
    if source_format == "pillarbox_hd":  # source_formats crops the middle 4:3 of the picture
        return max(2, round(min(size[0], size[1] * 4 / 3) / 2) * 2), size[1]
    return size


def _web_style(name: str, picture_size: tuple[int, int]) -> dict:
    """A web_gifs style as a manifest style entry, with gifmaker's keys so style readers work on both."""
    style = WEB_STYLES[name]
    width = min(style.width, picture_size[0]) // 2 * 2
    height = max(2, round(width * picture_size[1] / picture_size[0] / 2) * 2)
    if style.overlay == "crop_caption":
        raise ValueError("crop_caption GIFs need their own size bookkeeping; not used in the world")
    return {"web_style": name, "timing": style.timing, "overlay": style.overlay, "optimiser": style.optimiser,
            "method": style.encoder, "dither": "sierra2_4a" if style.encoder == "ffmpeg" else "floyd_steinberg",
            "fps": style.gif_fps, "width": width, "height": height, "crop": None, "caption": None, "mirror": False,
            "grayscale": style.grayscale, "speed": 0.5 if style.timing == "half_speed" else 1.0}


def plan_world(config: WorldConfig) -> list[VideoPlan]:
    """Every random choice of the world, drawn from the seed; rendering only executes this plan."""
    seed = config.seed
    with_footage = _exact_share(_rng(seed, 0), config.num_videos, config.real_footage_share, at_least_one=True)
    # A video's duration is the first draw of its stream; drawn ahead here to place the HD formats.
    durations = [float(_rng(seed, 1, v).uniform(config.min_duration_sec, config.max_duration_sec))
                 for v in range(config.num_videos)]
    formats = _source_formats(config, durations)
    plans = []
    for v in range(config.num_videos):
        rng = _rng(seed, 1, v)
        num_frames = round(rng.uniform(config.min_duration_sec, config.max_duration_sec) * config.fps)
        size = _rendered_size(config, formats[v])
        shots, transitions, rendered = plan_video_shots(rng, config, num_frames, v in with_footage, size)
        category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        plans.append(VideoPlan(
            video_id=f"v{v + 1:04d}", num_frames=num_frames, shots=shots, transitions=transitions,
            rendered=rendered, popularity=float(rng.normal(5.5, 0.8)), metadata=_video_metadata(rng, category),
            source_format=formats[v], size=size,
        ))
    gif_counts = [int(_rng(seed, 2, v).integers(config.gifs_per_video_min, config.gifs_per_video_max + 1))
                  for v in range(config.num_videos)]
    outliers = _exact_share(_rng(seed, 3), sum(gif_counts), config.outlier_share, at_least_one=False)
    web_names = [name for name, count in _counts(config.web_style_shares, sum(gif_counts)) for _ in range(count)]
    web_styles = dict(zip(_rng(seed, 6).permutation(sum(gif_counts)).tolist(), web_names))
    gif_index = 0
    for plan, count in zip(plans, gif_counts):
        picture_size = _picture_size(plan.size, plan.source_format)
        for _ in range(count):
            rng = _rng(seed, 4, gif_index)
            gif = GifPlan(
                gif_id=f"g{gif_index + 1:05d}",
                candidates=gifmaker.sample_candidates(rng, plan.num_frames, config.fps),
                outlier=gif_index in outliers, choice_draw=float(rng.random()),
                view_noise=float(rng.normal(0.0, gifmaker.VIEW_NOISE_SIGMA)),
                style=gifmaker.sample_style(rng, *picture_size),
                metadata=_gif_metadata(rng, plan.metadata),
            )
            if gif_index in web_styles:  # drawn all the same above, so other draws stay put
                gif.web_style = web_styles[gif_index]
                gif.style = _web_style(gif.web_style, picture_size)
            plan.gifs.append(gif)
            gif_index += 1
    return plans


def _ship_video(root: Path, plan: VideoPlan, config: WorldConfig) -> tuple[str, tuple[int, int], tuple]:
    """Render the video, then re-ship it in its source format in place of the rendering.

    Returns (path relative to root, size as shown, picture (x, y, w, h) inside the shown frame)."""
    width, height = plan.size
    rendered = root / "videos" / (f"{plan.video_id}.mp4" if plan.source_format == PLAIN_FORMAT
                                  else f".{plan.video_id}.rendered.mp4")
    render_video(rendered, plan.rendered, plan.transitions, plan.num_frames, width, height, config.fps)
    if plan.source_format == PLAIN_FORMAT:
        return rendered.relative_to(root).as_posix(), (width, height), (0, 0, width, height)
    shipped = encode_source(rendered, rendered.parent, plan.source_format, width, height, config.fps)
    final = root / "videos" / f"{plan.video_id}{shipped.path.suffix}"
    os.replace(shipped.path, final)
    rendered.unlink()
    return final.relative_to(root).as_posix(), shipped.shown_size, shipped.picture


def _make_gif(video_path: Path, out: Path, start: int, end: int, fps: float, picture_size, picture, gif: GifPlan):
    """Render one GIF from the shown picture; returns its truth span (start_frame, end_frame, direction, speed)."""
    # The crop is left out when the picture is the whole frame, so plain videos decode as they always have.
    crop = None if picture[:2] == (0, 0) and tuple(picture[2:]) == tuple(picture_size) else picture
    if gif.web_style is None:
        gifmaker.render_gif(video_path, out, start, end, fps, picture_size, gif.style, picture=crop)
        return start, end, "forward", gif.style["speed"]
    frames = decode_frames(video_path, picture_size[0], picture_size[1], start_frame=start, end_frame=end, fps=fps,
                           crop=crop)
    if len(frames) != end - start:
        raise RuntimeError(f"{video_path.name}: decoded {len(frames)} frames of [{start}, {end})")
    truth = WEB_STYLES[gif.web_style].make(frames, fps, out, start_sec=start / fps)
    # The span covered, in frames: a boomerang or reverse GIF covers it whichever way it plays.
    return round(truth.start_sec * fps), round(truth.end_sec * fps), truth.direction, truth.speed


def _build_video(root: Path, plan: VideoPlan, config: WorldConfig) -> tuple[dict, list[dict]]:
    """Render one video and its GIFs; returns their manifest entries."""
    fps = config.fps
    video_rel, shown_size, picture = _ship_video(root, plan, config)
    video_path = root / video_rel
    picture_size = _picture_size(plan.size, plan.source_format)
    # Motion energy of what a player shows, bars left out: what the users' hidden rule sees.
    full_frame = tuple(picture) == (0, 0, *shown_size)
    energy = gifmaker.motion_energy(video_path, None if full_frame else picture)
    if len(energy) != plan.num_frames:
        raise RuntimeError(f"{video_rel}: decoded {len(energy)} frames, planned {plan.num_frames}")
    excluded = gifmaker.transition_frames(plan.transitions)
    video_entry = {
        "video_id": plan.video_id, "path": video_rel, **plan.metadata,
        "fps": float(fps), "num_frames": plan.num_frames, "duration_sec": round(plan.num_frames / fps, 4),
        "width": shown_size[0], "height": shown_size[1],
        "source_format": plan.source_format, "picture": list(picture),
        "shots": [list(shot) for shot in plan.shots], "transitions": plan.transitions,
        "sources": [shot.source.kind for shot in plan.rendered],
        "shot_sources": [shot.source.as_manifest() for shot in plan.rendered],
    }
    gif_entries = []
    for gif in plan.gifs:
        scores = [gifmaker.rule_score(energy, a, b, excluded) for a, b in gif.candidates]
        chosen = gifmaker.choose_segment(gif.candidates, scores, gif.outlier, gif.choice_draw)
        gif_rel = f"gifs/{gif.gif_id}.gif"
        start, end, direction, speed = _make_gif(video_path, root / gif_rel, *gif.candidates[chosen], fps,
                                                 picture_size, tuple(picture), gif)
        if speed != gif.style["speed"]:
            raise RuntimeError(f"{gif.gif_id}: {gif.web_style} played at {speed}x, planned {gif.style['speed']}x")
        # The score of the span the GIF covers (a web style may end a frame short of the candidate).
        score = gifmaker.rule_score(energy, start, end, excluded)
        gif_entries.append({
            "gif_id": gif.gif_id, "video_id": plan.video_id, "path": gif_rel,
            "title": gif.metadata["title"],
            "views": gifmaker.views_for(score, plan.popularity, gif.view_noise),
            "upload_date": gif.metadata["upload_date"], "tags": gif.metadata["tags"],
            "category": gif.metadata["category"],
            "truth": {"start_sec": round(start / fps, 4), "end_sec": round(end / fps, 4),
                      "start_frame": start, "end_frame": end, "speed": speed, "direction": direction},
            "style": {**gif.style, "web_style": gif.web_style}, "source_format": plan.source_format,
            "outlier": gif.outlier, "rule_score": score,
        })
    return video_entry, gif_entries


def _write_json_atomically(path: Path, payload: dict) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(payload, indent=1, sort_keys=False))
    os.replace(partial, path)


def _cached_manifest(root: Path, fingerprint: str) -> dict | None:
    """The manifest under root if it was built from this config and all its files are present."""
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if manifest.get("fingerprint") != fingerprint:
        return None
    paths = [entry["path"] for entry in manifest["videos"] + manifest["gifs"]]
    return manifest if all((root / p).is_file() for p in paths) else None


def _log(message: str) -> None:
    print(f"[world] {message}", file=sys.stderr, flush=True)


def build_world(root, config: WorldConfig = WorldConfig(), workers: int | None = None) -> World:
    """Build the world under root, or reuse it if root already holds one built from this config."""
    root = Path(root)
    fingerprint = config.fingerprint()
    manifest = _cached_manifest(root, fingerprint)
    if manifest is not None:
        _log(f"reusing {root} ({len(manifest['videos'])} videos, {len(manifest['gifs'])} gifs)")
        return World(root, manifest)
    # Drop the manifest first: a build interrupted from here on leaves no manifest, so it is redone.
    (root / MANIFEST_NAME).unlink(missing_ok=True)
    for folder in ("videos", "gifs"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir(parents=True)
    plans = plan_world(config)
    began = time.monotonic()
    _log(f"building {len(plans)} videos, {sum(len(p.gifs) for p in plans)} gifs into {root}")
    results = {}
    # ffmpeg jobs run single-threaded, so one worker per core keeps every core busy.
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        # Longest videos first, so the pool does not end waiting on one long job.
        futures = {pool.submit(_build_video, root, plan, config): plan.video_id
                   for plan in sorted(plans, key=lambda p: -p.num_frames)}
        try:
            for done, future in enumerate(as_completed(futures), 1):
                results[futures[future]] = future.result()
                _log(f"{futures[future]} done ({done}/{len(plans)}, {time.monotonic() - began:.1f}s)")
        except BaseException:
            for future in futures:  # a failed build stops here instead of rendering the rest
                future.cancel()
            raise
    videos = [results[p.video_id][0] for p in plans]
    gifs = [gif for p in plans for gif in results[p.video_id][1]]
    # Through JSON, so the share tuples read back equal (as lists) when the world is reused.
    config_entry = json.loads(json.dumps(dataclasses.asdict(config)))
    manifest = {"version": MANIFEST_VERSION, "fingerprint": fingerprint, "config": config_entry,
                "rule": gifmaker.RULE, "videos": videos, "gifs": gifs}
    _write_json_atomically(root / MANIFEST_NAME, manifest)
    _log(f"built in {time.monotonic() - began:.1f}s")
    return World(root, manifest)


def load_world(root) -> World:
    """The world already built under root."""
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no demo world under {root} (missing {MANIFEST_NAME}); run build_world first")
    return World(root, json.loads(path.read_text()))
