"""The demo world: its files must be what its manifest says they are.

Facts are checked against real decodes (ffmpeg for videos, Pillow for GIFs), not against the
generator's own bookkeeping.
"""
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageOps

from demo_world import gifmaker
from demo_world import world as world_module
from demo_world.videos import FOOTAGE, decode_frames, ffmpeg_exe, footage_dir, render_video
from demo_world.world import (
    CATEGORIES,
    SOURCE_FORMAT_SHARES,
    WEB_STYLE_SHARES,
    WorldConfig,
    build_world,
    load_world,
    plan_world,
)

TINY = WorldConfig.tiny()
WILD = WorldConfig.tiny_wild()
THUMB = (32, 18)
RESHIPPED = {name for name, _ in SOURCE_FORMAT_SHARES}
WEB_STYLES = {name for name, _ in WEB_STYLE_SHARES}


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("tiny-world"), TINY)


@pytest.fixture(scope="module")
def wild_world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("wild-world"), WILD)


def thumb_diffs(path):
    """Mean absolute RGB difference between consecutive frames of a 32x18 decode; diffs[0] = 0."""
    frames = decode_frames(path, *THUMB).astype(np.float32)
    return frames, np.concatenate([[0.0], np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))])


def edited_frames(video):
    """Frames whose difference to the previous frame comes from a cut or a dissolve."""
    frames = set()
    for transition in video["transitions"]:
        if transition["kind"] == "cut":
            frames.add(transition["frame"])
        else:
            frames.update(range(transition["start_frame"], transition["end_frame"] + 1))
    return frames


def test_manifest_follows_the_contract(tiny_world):
    manifest = tiny_world.manifest
    assert manifest["version"] == 1 and manifest["fingerprint"] == TINY.fingerprint()
    assert manifest["config"]["seed"] == TINY.seed
    assert [v["video_id"] for v in tiny_world.videos] == ["v0001", "v0002", "v0003"]
    assert [g["gif_id"] for g in tiny_world.gifs] == [f"g{i:05d}" for i in range(1, 7)]
    for video in tiny_world.videos:
        assert video["path"] == f"videos/{video['video_id']}.mp4"
        assert video["category"] in CATEGORIES and video["tags"] and video["title"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", video["upload_date"])
        assert (video["fps"], video["width"], video["height"]) == (25.0, 160, 90)
        assert video["duration_sec"] == pytest.approx(video["num_frames"] / video["fps"])
        assert 6.0 <= video["duration_sec"] <= 8.0
        shots = video["shots"]
        assert shots[0][0] == 0 and shots[-1][1] == video["num_frames"]
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(shots, shots[1:]))
        assert len(video["sources"]) == len(shots) == len(video["transitions"]) + 1
        for transition, (shot, following) in zip(video["transitions"], zip(shots, shots[1:])):
            if transition["kind"] == "cut":
                assert transition["frame"] == shot[1]
            else:
                assert transition["start_frame"] < shot[1] < transition["end_frame"] <= following[1]
    videos = {v["video_id"]: v for v in tiny_world.videos}
    for gif in tiny_world.gifs:
        video = videos[gif["video_id"]]
        truth = gif["truth"]
        assert gif["path"] == f"gifs/{gif['gif_id']}.gif"
        assert gif["category"] == video["category"] and gif["upload_date"] > video["upload_date"]
        assert isinstance(gif["views"], int) and gif["views"] >= 1
        assert 0.0 <= gif["rule_score"] <= 1.0
        assert 0 <= truth["start_frame"] < truth["end_frame"] <= video["num_frames"]
        assert truth["start_sec"] == pytest.approx(truth["start_frame"] / 25.0)
        assert truth["end_sec"] == pytest.approx(truth["end_frame"] / 25.0)
        assert 2.0 <= truth["end_sec"] - truth["start_sec"] <= 6.0
        assert truth["speed"] == gif["style"]["speed"]
    # The tiny world still exercises every kind of truth.
    transitions = [t["kind"] for v in tiny_world.videos for t in v["transitions"]]
    assert "cut" in transitions and "dissolve" in transitions
    assert any(s.endswith(".mp4") for v in tiny_world.videos for s in v["sources"])
    assert sum(g["outlier"] for g in tiny_world.gifs) == round(0.15 * 6)


def test_videos_are_h264_at_the_recorded_size_rate_and_length(tiny_world):
    for video in tiny_world.videos:
        path = tiny_world.video_path(video["video_id"])
        probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
        assert re.search(r"Video: h264 .*yuv420p.*, 160x90.*, 25 fps", probe), probe
        frames = decode_frames(path, video["width"], video["height"])
        assert frames.shape == (video["num_frames"], 90, 160, 3)


def test_cuts_are_where_the_truth_says(tiny_world):
    for video in tiny_world.videos:
        _, diffs = thumb_diffs(tiny_world.video_path(video["video_id"]))
        edited = edited_frames(video)
        for transition in video["transitions"]:
            if transition["kind"] != "cut":
                continue
            frame = transition["frame"]
            around = [diffs[i] for i in range(max(1, frame - 5), min(len(diffs), frame + 6)) if i not in edited]
            assert diffs[frame] > 15 and diffs[frame] > 2 * max(around), (video["video_id"], frame)
        for (start, end), source in zip(video["shots"], video["shot_sources"]):
            if "filter" in source:  # procedural shots: no cut-like jumps inside
                inside = [diffs[i] for i in range(start + 1, end) if i not in edited]
                assert max(inside, default=0) < 20, (video["video_id"], start, source)


def test_dissolves_blend_gradually_between_two_shots(tiny_world):
    dissolves = 0
    for video in tiny_world.videos:
        frames, diffs = thumb_diffs(tiny_world.video_path(video["video_id"]))
        for transition in video["transitions"]:
            if transition["kind"] != "dissolve":
                continue
            dissolves += 1
            before, after = frames[transition["start_frame"] - 1], frames[transition["end_frame"]]
            total_change = np.abs(after - before).mean()
            steps = diffs[transition["start_frame"]:transition["end_frame"] + 1]
            assert total_change > 15 and steps.max() < 0.6 * total_change
            middle = frames[(transition["start_frame"] + transition["end_frame"]) // 2]
            assert np.abs(middle - (before + after) / 2).mean() < 0.5 * total_change
    assert dissolves >= 1


def test_footage_internal_cuts_are_the_recorded_ones():
    for footage in FOOTAGE:
        _, diffs = thumb_diffs(footage_dir() / footage.file)
        assert len(diffs) == footage.num_frames
        assert tuple(np.flatnonzero(diffs > 30).tolist()) == footage.internal_cuts


def test_footage_shots_show_the_recorded_span_of_the_file(tiny_world):
    checked = 0
    for video in tiny_world.videos:
        for (start, end), source in zip(video["shots"], video["shot_sources"]):
            if "footage_start_sec" not in source:
                continue
            middle = (end - start) // 2
            shown = decode_frames(tiny_world.video_path(video["video_id"]), *THUMB,
                                  start_frame=start + middle, end_frame=start + middle + 1, fps=25.0)[0]
            raw = subprocess.run([
                ffmpeg_exe(), "-v", "error", "-i", str(footage_dir() / source["source"]), "-vf",
                "fps=25,scale=160:90:force_original_aspect_ratio=increase,crop=160:90,scale=32:18:flags=area",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
            original = np.frombuffer(raw, np.uint8).reshape(-1, 18, 32, 3)
            expected = original[round(source["footage_start_sec"] * 25) + middle]
            assert np.abs(shown.astype(float) - expected).mean() < 8
            checked += 1
    assert checked >= 1


def gif_frames(path):
    """(RGB frames, per-frame durations in ms) as Pillow decodes the file."""
    frames, durations = [], []
    with Image.open(path) as image:
        assert image.format == "GIF"
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
            frames.append(image.convert("RGB"))
    return frames, durations


def expected_picture(video_path, start_frame, style):
    """A GIF's first picture rebuilt from the video frame its truth names, with its style applied."""
    frame = decode_frames(video_path, 160, 90, start_frame=start_frame, end_frame=start_frame + 1, fps=25.0)[0]
    picture = Image.fromarray(frame)
    if style["crop"]:
        c = style["crop"]
        picture = picture.crop((c["x"], c["y"], c["x"] + c["w"], c["y"] + c["h"]))
    picture = picture.resize((style["width"], style["height"]), Image.Resampling.BOX)
    if style["mirror"]:
        picture = ImageOps.mirror(picture)
    if style["grayscale"]:
        picture = picture.convert("L").convert("RGB")
    return picture


def picture_error(frame, style, expected):
    """Mean absolute difference of 16x16 thumbnails, caption bar left out: dithering averages away."""
    picture = frame.crop((0, 0, style["width"], style["height"]))
    thumbs = [np.asarray(p.resize((16, 16), Image.Resampling.BOX), dtype=np.float32) for p in (picture, expected)]
    return np.abs(thumbs[0] - thumbs[1]).mean()


def test_gifs_show_their_truth_segment_in_their_style(tiny_world):
    for gif in tiny_world.gifs:
        style, truth = gif["style"], gif["truth"]
        frames, durations = gif_frames(tiny_world.gif_path(gif["gif_id"]))
        bar = style["caption"]["bar_height"] if style["caption"] else 0
        assert frames[0].size == (style["width"], style["height"] + bar)
        assert frames[0].width <= 320
        playback = (truth["end_sec"] - truth["start_sec"]) / truth["speed"]
        assert sum(durations) / 1000 == pytest.approx(playback, abs=0.5 / style["fps"] + 0.02)
        assert len(frames) <= round(playback * style["fps"]) + 1
        for frame in frames:
            assert frame.getcolors(256) is not None  # at most 256 colours
            if style["grayscale"]:
                rgb = np.asarray(frame, dtype=np.int16)
                assert np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 2
        expected = expected_picture(tiny_world.video_path(gif["video_id"]), truth["start_frame"], style)
        assert picture_error(frames[0], style, expected) < 12, gif["gif_id"]


def test_gif_styles_render_as_recorded(tmp_path, tiny_world):
    """Every style option, on one video, through both renderers."""
    video = tiny_world.videos[0]
    path = tiny_world.video_path(video["video_id"])
    base = {"fps": 10, "width": 120, "height": 68, "crop": None, "caption": None, "mirror": False,
            "grayscale": False, "speed": 1.0}
    styles = [
        {**base, "method": "ffmpeg", "dither": "bayer", "bayer_scale": 2, "palette_stats": "full"},
        {**base, "method": "ffmpeg", "dither": "sierra2_4a", "palette_stats": "diff", "fps": 15, "speed": 2.0,
         "caption": {"text": "WAIT FOR IT", "position": "bottom_bar", "bar_height": 14}},
        {**base, "method": "pillow", "dither": "floyd_steinberg", "quantizer": "mediancut", "fps": 5,
         "crop": {"x": 10, "y": 4, "w": 80, "h": 80}, "width": 80, "height": 80, "mirror": True},
        {**base, "method": "pillow", "dither": "none", "quantizer": "fastoctree", "grayscale": True, "speed": 1.5,
         "caption": {"text": "mood", "position": "bottom_bar", "bar_height": 14}},
    ]
    for index, style in enumerate(styles):
        out = tmp_path / f"{index}.gif"
        gifmaker.render_gif(path, out, 10, 85, 25.0, (160, 90), style)
        frames, durations = gif_frames(out)
        bar = style["caption"]["bar_height"] if style["caption"] else 0
        assert frames[0].size == (style["width"], style["height"] + bar)
        assert sum(durations) / 1000 == pytest.approx(3.0 / style["speed"], abs=0.5 / style["fps"] + 0.02)
        assert picture_error(frames[0], style, expected_picture(path, 10, style)) < 12
        if style["mirror"]:  # the unmirrored picture must fit clearly worse
            assert picture_error(frames[0], style, expected_picture(path, 10, {**style, "mirror": False})) > 20
        if bar:  # a black bar with light text burned in
            strip = np.asarray(frames[0].convert("L"))[style["height"]:]
            assert (strip < 40).mean() > 0.5 and strip.max() > 200


def test_rule_scores_are_mean_motion_energy_of_the_segment(tiny_world):
    videos = {v["video_id"]: v for v in tiny_world.videos}
    for gif in tiny_world.gifs:
        video = videos[gif["video_id"]]
        gray = decode_frames(tiny_world.video_path(video["video_id"]), 64, 36, gray=True).astype(np.float64)
        energy = np.concatenate([[0.0], np.abs(np.diff(gray, axis=0)).mean(axis=(1, 2)) / 255])
        edited = edited_frames(video)
        kept = [t for t in range(gif["truth"]["start_frame"] + 1, gif["truth"]["end_frame"]) if t not in edited]
        expected = 1 - np.exp(-energy[kept].mean() / gifmaker.MOTION_ENERGY_SCALE)
        assert gif["rule_score"] == pytest.approx(expected, abs=1e-3)


def test_users_prefer_high_scores_and_views_follow_the_score():
    candidates = [(0, 50), (10, 60), (20, 70)]
    scores = [0.2, 0.9, 0.3]
    draws = np.linspace(0.01, 0.99, 50)
    assert {gifmaker.choose_segment(candidates, scores, True, u) for u in draws} == {0}
    picks = [gifmaker.choose_segment(candidates, scores, False, u) for u in draws]
    assert picks.count(1) >= 48
    views = [gifmaker.views_for(score, 6.0, 0.0) for score in (0.0, 0.5, 1.0)]
    assert views == sorted(views) and views[-1] > 10 * views[0]


def test_same_seed_gives_the_same_world(tmp_path, tiny_world):
    again = build_world(tmp_path / "again", TINY)
    assert again.manifest == tiny_world.manifest
    for entry in tiny_world.videos + tiny_world.gifs:
        assert (again.root / entry["path"]).read_bytes() == (tiny_world.root / entry["path"]).read_bytes()
    other = plan_world(WorldConfig.tiny(seed=8))
    assert [p.shots for p in other] != [p.shots for p in plan_world(TINY)]


def test_existing_world_is_reused_without_regenerating(tiny_world, capsys):
    stamps = {p: p.stat().st_mtime_ns for p in tiny_world.root.rglob("*") if p.is_file()}
    reused = build_world(tiny_world.root, TINY)
    assert reused.manifest == tiny_world.manifest
    assert {p: p.stat().st_mtime_ns for p in tiny_world.root.rglob("*") if p.is_file()} == stamps
    assert "reusing" in capsys.readouterr().err
    loaded = load_world(tiny_world.root)
    assert loaded.manifest == tiny_world.manifest
    assert loaded.video_path("v0002").is_file() and loaded.gif_path("g00003").is_file()
    assert loaded.video("v0002")["video_id"] == "v0002"


def test_interrupted_or_different_builds_are_redone(tmp_path, tiny_world, monkeypatch):
    root = tmp_path / "world"
    shutil.copytree(tiny_world.root, root)
    (root / "manifest.json").write_text(json.dumps({**tiny_world.manifest, "fingerprint": "other-config"}))
    render_gif = gifmaker.render_gif
    calls = []

    def failing_render(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("interrupted")
        return render_gif(*args, **kwargs)

    monkeypatch.setattr(world_module.gifmaker, "render_gif", failing_render)
    with pytest.raises(RuntimeError, match="interrupted"):
        build_world(root, TINY, workers=1)
    assert not (root / "manifest.json").exists()  # a stale manifest never outlives a rebuild start
    with pytest.raises(FileNotFoundError):
        load_world(root)
    monkeypatch.setattr(world_module.gifmaker, "render_gif", render_gif)
    assert build_world(root, TINY).manifest == tiny_world.manifest


def test_config_is_validated_and_fingerprinted():
    with pytest.raises(ValueError):
        WorldConfig(width=1280, height=720)
    with pytest.raises(ValueError):
        WorldConfig(min_duration_sec=30.0, max_duration_sec=20.0)
    assert WorldConfig().fingerprint() == WorldConfig().fingerprint()
    assert WorldConfig(seed=8).fingerprint() != WorldConfig().fingerprint()


def test_default_world_plan_has_the_promised_variety():
    config = WorldConfig()
    plans = plan_world(config)
    assert len(plans) == 32
    assert all(20 * 25 <= p.num_frames <= 60 * 25 for p in plans)
    lengths = [end - start for p in plans for start, end in p.shots]
    assert min(lengths) >= 10 and sum(length < 25 for length in lengths) >= 10 and max(lengths) > 200
    kinds = {s.source.kind for p in plans for s in p.rendered}
    assert {"bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4", "mandelbrot", "life"} <= kinds
    assert sum(any(not s.source.graph for s in p.rendered) for p in plans) == 16
    transitions = [t["kind"] for p in plans for t in p.transitions]
    assert 0.15 < transitions.count("dissolve") / len(transitions) < 0.3
    gifs = [g for p in plans for g in p.gifs]
    assert all(3 <= len(p.gifs) <= 7 for p in plans)
    assert sum(g.outlier for g in gifs) == round(0.15 * len(gifs))
    styles = [g.style for g in gifs if g.web_style is None]
    assert {s["method"] for s in styles} == {"ffmpeg", "pillow"}
    assert {s["dither"] for s in styles} == {"bayer", "floyd_steinberg", "sierra2_4a", "none"}
    assert {s["fps"] for s in styles} == {5, 10, 15} and {s["speed"] for s in styles} == {1.0, 1.5, 2.0}
    assert all(s["width"] <= 320 for s in styles)
    for option in ("crop", "caption", "mirror", "grayscale"):
        assert any(s[option] for s in styles) and not all(s[option] for s in styles)


def test_footage_shots_avoid_the_files_own_cuts():
    for plan in plan_world(WorldConfig()):
        for shot in plan.rendered:
            if shot.source.graph:
                continue
            footage = next(f for f in FOOTAGE if f.file == shot.source.kind)
            first = shot.source.footage_start_sec * footage.fps
            last = first + (shot.num_frames - 1) / 25.0 * footage.fps
            assert 0 <= first and last < footage.num_frames - 1
            assert not any(first < cut <= last + 1 for cut in footage.internal_cuts)


def test_default_world_plan_ships_every_source_format_and_web_gif_style():
    config = WorldConfig()
    plans = plan_world(config)
    formats = [p.source_format for p in plans]
    assert set(formats) == RESHIPPED | {"h264"}
    assert 8 <= len(formats) - formats.count("h264") <= 12  # about a third
    # HD ones are the shortest videos: decoding 1280x720 is what costs
    hd = [p.num_frames for p in plans if p.source_format.endswith("_hd")]
    assert max(hd) <= sorted(p.num_frames for p in plans)[len(hd) - 1]
    gifs = [g for p in plans for g in p.gifs]
    web = [g.web_style for g in gifs if g.web_style]
    assert set(web) == WEB_STYLES
    for name, share in WEB_STYLE_SHARES:
        assert web.count(name) == round(share * len(gifs))
    assert [p.source_format for p in plan_world(WorldConfig(num_videos=1))] == ["h264"]  # shares round down
    assert config.fingerprint() != WorldConfig(source_format_shares=(), web_style_shares=()).fingerprint()
    with pytest.raises(ValueError):
        WorldConfig(source_format_shares=(("betamax", 0.1),))
    with pytest.raises(ValueError):
        WorldConfig(web_style_shares=(("watermark", 0.7), ("boomerang", 0.7)))


def _probe(path):
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr


def test_wild_world_has_one_video_per_source_format_and_every_web_style(wild_world):
    assert {v["source_format"] for v in wild_world.videos} == RESHIPPED
    assert {g["style"]["web_style"] for g in wild_world.gifs} == WEB_STYLES | {None}
    for video in wild_world.videos:
        suffix = {"vp9": ".webm", "av1": ".mkv"}.get(video["source_format"], ".mp4")
        assert video["path"] == f"videos/{video['video_id']}{suffix}"
    for gif in wild_world.gifs:
        assert gif["source_format"] == wild_world.video(gif["video_id"])["source_format"]


def test_reshipped_videos_ship_as_promised(wild_world):
    for video in wild_world.videos:
        path, kind = wild_world.video_path(video["video_id"]), video["source_format"]
        probe = _probe(path)
        if kind in ("turned_90", "turned_270"):  # stored turned, a display matrix turns it upright
            assert re.search(r"Video: h264 .*, 90x160", probe), probe
            rotation = "90.00" if kind == "turned_90" else "-90.00"
            assert f"Display Matrix: rotation of {rotation} degrees" in probe, probe
            assert (video["width"], video["height"], video["picture"]) == (160, 90, [0, 0, 160, 90])
        elif kind.endswith("_hd"):
            assert re.search(r"Video: h264 .*, 1280x720", probe), probe
            assert (video["width"], video["height"]) == (1280, 720)
            x, y, w, h = video["picture"]
            assert (x, y, w, h) == ((160, 0, 960, 720) if kind == "pillarbox_hd" else (0, 88, 1280, 544))
            frames = decode_frames(path, 128, 72).astype(np.float32)
            bars = np.ones((72, 128), bool)
            bars[max(0, y // 10 - 1):(y + h) // 10 + 1, max(0, x // 10 - 1):(x + w) // 10 + 1] = False
            assert frames[:, bars].max() < 24  # black bars, on every frame
            inside = frames[:, y // 10 + 1:(y + h) // 10 - 1, x // 10 + 1:(x + w) // 10 - 1]
            assert inside.mean() > 24
        else:
            codec = {"vp9": "vp9", "av1": "av1"}[kind]
            assert re.search(rf"Video: {codec} .*, 160x90", probe), probe
        assert ", 25 fps" in probe
        assert len(decode_frames(path, *THUMB)) == video["num_frames"]


def _shown_picture(world, video, width, height, **decode):
    """Frames of the picture a player shows (bars cut off, upright), at width x height."""
    x, y, w, h = video["picture"]
    crop = None if (x, y, w, h) == (0, 0, video["width"], video["height"]) else (x, y, w, h)
    return decode_frames(world.video_path(video["video_id"]), width, height, crop=crop, fps=25.0, **decode)


def test_reshipped_videos_show_the_rendered_picture_frame_for_frame(tmp_path, wild_world):
    """The re-shipped file against a fresh rendering of its plan: same picture (upright, inside the
    bars), at the same frames, so the truth in frames still holds."""
    plans = {p.video_id: p for p in plan_world(WILD)}
    for video in wild_world.videos:
        plan = plans[video["video_id"]]
        rendered_path = tmp_path / f"{plan.video_id}.mp4"
        render_video(rendered_path, plan.rendered, plan.transitions, plan.num_frames, *plan.size, 25.0)
        rendered = decode_frames(rendered_path, *plan.size).astype(np.float32)
        if video["source_format"] == "pillarbox_hd":  # the middle 4:3 of the rendering
            margin = (plan.size[0] - plan.size[1] * 4 // 3) // 2
            rendered = rendered[:, :, margin:plan.size[0] - margin]
        shown = _shown_picture(wild_world, video, rendered.shape[2], rendered.shape[1]).astype(np.float32)
        assert shown.shape == rendered.shape
        errors = np.abs(shown - rendered).mean(axis=(1, 2, 3))
        assert errors.max() < 12, (video["video_id"], video["source_format"], errors.max())
        # Frame for frame: a shift by one frame fits worse wherever the picture moves.
        moving = np.abs(np.diff(rendered, axis=0)).mean(axis=(1, 2, 3)) > 3 * errors[1:]
        assert moving.sum() >= 10, video["video_id"]
        shifted = np.abs(shown[1:] - rendered[:-1]).mean(axis=(1, 2, 3))
        assert (shifted[moving] > errors[1:][moving]).mean() > 0.9, video["video_id"]


def _cell_error(picture, expected):
    """Median absolute difference over 16x16 thumbnail cells: overlays covering under half the
    picture (watermark, sticker, meme text) leave it to the picture underneath."""
    thumbs = [np.asarray(p.resize((16, 16), Image.Resampling.BOX), dtype=np.float32) for p in (picture, expected)]
    return float(np.median(np.abs(thumbs[0] - thumbs[1]).mean(axis=2)))


def test_wild_gifs_show_their_truth_span(wild_world):
    """Every GIF of the wild world, whatever its style, against the shown picture at its truth."""
    for gif in wild_world.gifs:
        video, style, truth = wild_world.video(gif["video_id"]), gif["style"], gif["truth"]
        start, end = truth["start_frame"], truth["end_frame"]
        assert 0 <= start < end <= video["num_frames"] and truth["start_sec"] == pytest.approx(start / 25)
        assert truth["end_sec"] == pytest.approx(end / 25) and truth["speed"] == style["speed"]
        frames, durations = gif_frames(wild_world.gif_path(gif["gif_id"]))
        picture_box = (0, 0, style["width"], style["height"])
        assert frames[0].width == style["width"] and frames[0].height >= style["height"]
        span = (end - start) / 25
        web = style["web_style"]
        expected_sec = {"boomerang": 2 * span, "half_speed": 2 * span}.get(web, span / style["speed"])
        if web == "boomerang":  # no turning frame repeated: two GIF frames short of twice the span
            expected_sec -= 2 / style["fps"]
        if web not in ("imagemagick_optimize", "gifsicle_O3_lossy"):  # optimisers may merge frames
            assert sum(durations) / 1000 == pytest.approx(expected_sec, abs=1 / style["fps"] + 0.05), gif["gif_id"]
        assert truth["direction"] == {"boomerang": "boomerang", "reverse": "reverse"}.get(web, "forward")
        shown = _shown_picture(wild_world, video, style["width"], style["height"], start_frame=start,
                               end_frame=end)
        # A reverse GIF ends on the span's first frame; every other one starts there.
        first = frames[-1] if web == "reverse" else frames[0]
        picture = first.crop(picture_box)
        if style["grayscale"] or style["mirror"] or style["crop"]:
            continue  # gifmaker's options: test_gifs_show_their_truth_segment_in_their_style covers them
        error = _cell_error(picture, Image.fromarray(shown[0]))
        assert error < 12, (gif["gif_id"], web, video["source_format"], error)
        if web == "boomerang":  # it turns on the span's last shown frame and comes back
            turn = frames[len(frames) // 2].crop(picture_box)  # the last frame shown: one or two before the end
            assert min(_cell_error(turn, Image.fromarray(shown[i])) for i in (-1, -2)) < 12


def test_demo_site_serves_reshipped_videos_under_their_suffix_and_type(wild_world):
    from demo_world.site.server import DemoSite

    site = DemoSite(wild_world.root)
    types = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska"}
    for video in wild_world.videos:
        suffix = "." + video["path"].rsplit(".", 1)[1]
        path = site.video_media_path(video["video_id"])
        assert path == f"/media/videos/{video['video_id']}{suffix}"
        response = site.route(path, {}, {})
        assert (response.status, response.content_type) == (200, types[suffix])
        assert site.route(f"/media/videos/{video['video_id']}.avi", {}, {}).status == 404
        page = site.route(f"/video/{video['video_id']}", {}, {})
        assert f'src="{path}" type="{types[suffix]}"' in page.body.data.decode()
