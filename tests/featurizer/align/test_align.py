"""GIF-to-video alignment (featurizer.align.aligner) and `gifrank align`: tiny media, real tools."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageSequence

from bench.align_accuracy import BASE_STYLE, CorpusVideo, corpus_style, render_corpus_gif
from demo_world import gifmaker
from demo_world.videos import ffmpeg_exe, footage_dir, run_ffmpeg
from featurizer.align.aligner import MAX_LUMA_SIDE, Alignment, align_gif, align_video
from featurizer.align.video_index import index_video
from featurizer.media.errors import TOO_FEW_FRAMES, MediaError
from featurizer.media.gif import read_gif
from pipelines.commands import align_video as align_cli

FPS = 25.0
SIZE = (320, 180)
# bikes.mp4 (640x272) letterboxed into 320x180: real footage with its own cuts, 6 s.
BIKES = CorpusVideo("bikes", FPS, SIZE, (0, 22, 320, 136), (1.6, 2.4))
TOLERANCE_SEC = 0.1


def _encode(out, *args):
    run_ffmpeg([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *args, "-an", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", "20", "-pix_fmt", "yuv420p", "-r", "25", str(out)])
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("align")
    clips = footage_dir()
    bikes = _encode(root / "bikes.mp4", "-i", str(clips / "bikes.mp4"), "-t", "6",
                    "-vf", "scale=320:136:flags=area,pad=320:180:0:22:black")
    bunny = _encode(root / "bunny.mp4", "-i", str(clips / "bigbuckbunny.mp4"), "-vf", "scale=320:180:flags=area")
    still = _encode(root / "still.mp4", "-ss", "2", "-i", str(clips / "bigbuckbunny.mp4"), "-vf",
                    "scale=320:180:flags=area,trim=end_frame=1,loop=loop=99:size=1,setpts=N/25/TB")
    return {"root": root, "bikes": bikes, "bunny": bunny, "still": still, "index": index_video(bikes)}


def _gif(media, style_name, start, end, seed=0):
    style = corpus_style(style_name, BIKES, np.random.default_rng(seed))
    out = media["root"] / f"{style_name}-{start}-{end}-{seed}.gif"
    render_corpus_gif(style_name, media["bikes"], BIKES, start, end, style, out)
    return out


def _assert_placed(result: Alignment, start: int, end: int):
    assert result.aligned, result.reason
    assert abs(result.start_sec - start / FPS) <= TOLERANCE_SEC
    assert abs(result.end_sec - end / FPS) <= TOLERANCE_SEC
    assert result.start_frame == round(result.start_sec * FPS) and result.end_frame == round(result.end_sec * FPS)


def test_plain_gif_is_placed_to_the_frame(media):
    start, end = 40, 95
    result = align_gif(media["index"], _gif(media, "plain", start, end))
    assert result.aligned and result.start_frame == start and abs(result.end_frame - end) <= 1
    assert abs(result.speed - 1.0) < 0.03 and not result.mirrored and result.crop is None
    assert result.confidence > 0.5 and result.inlier_share > 0.9 and result.reason is None


@pytest.mark.parametrize("style_name, start, end", [
    ("pillow", 10, 60), ("crop", 52, 110), ("letterbox", 20, 75), ("caption", 80, 130), ("mirror", 35, 90),
    ("grayscale", 60, 115), ("dither16", 15, 70), ("pillow16", 70, 125), ("5fps", 30, 90), ("speed1.5", 25, 100),
    ("speed2", 40, 140), ("ffmpeg_cli", 50, 105),
])
def test_each_gif_style_is_placed(media, style_name, start, end):
    result = align_gif(media["index"], _gif(media, style_name, start, end))
    _assert_placed(result, start, end)
    assert result.mirrored == (style_name == "mirror")
    if style_name == "crop":
        assert result.crop is not None
    elif style_name not in ("letterbox", "caption"):
        # (bars added by the GIF maker merge with the clip's own letterbox bars, and the
        # bars-free picture is then found as a crop of the video frame)
        assert result.crop is None
    expected_speed = {"speed1.5": 1.5, "speed2": 2.0}.get(style_name, 1.0)
    assert abs(result.speed - expected_speed) < 0.05 * expected_speed


def test_crop_box_is_reported_in_video_pixels(media):
    style = corpus_style("crop", BIKES, np.random.default_rng(0))
    result = align_gif(media["index"], _gif(media, "crop", 52, 110))
    x, y, w, h = result.crop
    truth = style["crop"]
    assert abs(x - truth["x"]) <= 8 and abs(y - truth["y"]) <= 8
    assert abs(w - truth["w"]) <= 12 and abs(h - truth["h"]) <= 12


@pytest.mark.parametrize("x, y, start, end, fps, dither", [(60, 40, 30, 95, 10, "sierra2_4a"),
                                                          (40, 44, 28, 90, 5, "none")])
def test_crop_of_scrolling_material_is_placed_by_the_rest_of_the_gif(media, x, y, start, end, fps, dither):
    # A cellular automaton scrolls up a pixel a frame, so its part of the GIF fits a box higher
    # up at a later start as well as the true one: only the gradient before the cut tells them apart.
    video = _encode(media["root"] / "scroll.mp4", "-filter_complex",
                    "gradients=s=320x180:r=25:c0=0xe697bd:c1=0x812e62:c2=0x3004f3:c3=0x669222:nb_colors=4"
                    ":seed=630239486:speed=0.0291:type=linear:duration=2,format=yuv420p[a];"
                    "cellauto=s=320x180:r=25:rule=90:ratio=0.67:seed=59172763:start_full=1,trim=start_frame=35,"
                    "setpts=PTS-STARTPTS,trim=duration=4,format=yuv420p[b];[a][b]concat=n=2:v=1[v]", "-map", "[v]")
    style = dict(BASE_STYLE, dither=dither, fps=fps, width=160, height=90, crop={"x": x, "y": y, "w": 230, "h": 130})
    out = media["root"] / f"scroll-{x}-{y}.gif"
    gifmaker.render_gif(video, out, start, end, FPS, SIZE, style)
    result = align_gif(index_video(video), out)
    _assert_placed(result, start, end)
    assert abs(result.crop[0] - x) <= 8 and abs(result.crop[1] - y) <= 8


def test_gif_from_another_video_is_not_aligned(media):
    result = align_gif(index_video(media["bunny"]), _gif(media, "plain", 40, 95))
    assert not result.aligned and result.reason
    assert result.start_sec is None and result.end_frame is None


def test_near_static_material_gets_low_confidence(media):
    video = CorpusVideo("still", FPS, SIZE, (0, 0) + SIZE, (1.6, 2.4))
    out = media["root"] / "still.gif"
    gifmaker.render_gif(media["still"], out, 30, 80, FPS, SIZE, corpus_style("plain", video, np.random.default_rng(0)))
    result = align_gif(index_video(media["still"]), out)
    assert result.confidence <= 0.3


def test_one_frame_gif_is_refused(media):
    out = media["root"] / "one.gif"
    Image.new("RGB", (64, 36), "white").save(out)
    with pytest.raises(MediaError) as refused:
        align_gif(media["index"], out)
    assert refused.value.kind == TOO_FEW_FRAMES


def test_gif_longer_than_the_video_is_not_aligned(media):
    frames = [Image.new("RGB", (64, 36), (i * 20, 0, 0)) for i in range(4)]
    out = media["root"] / "long.gif"
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=10_000, loop=0)  # 40 s
    result = align_gif(media["index"], out)
    assert not result.aligned and "longer than the video" in result.reason


def test_align_video_indexes_once_and_reports_unreadable_gifs(media, tmp_path):
    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"GIF89a" + b"\x00" * 20)
    results = align_video(media["bikes"], [_gif(media, "plain", 40, 95), broken])
    assert results[0].aligned and not results[1].aligned and results[1].reason


def test_index_keeps_no_temporary_file(media, tmp_path):
    index = index_video(media["bikes"], workdir=str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    assert index.num_frames == 150 and index.thumbs.shape[0] == 150 and len(index.hashes) == 150
    assert np.all(np.diff(index.times) > 0) and abs(index.fps - FPS) < 1e-6


def test_gif_bytes_and_decoded_frames_align_alike(media):
    path = _gif(media, "plain", 40, 95)
    from_bytes = align_gif(media["index"], path.read_bytes())
    from_frames = align_gif(media["index"], read_gif(path))
    assert from_bytes.start_frame == from_frames.start_frame == 40


@pytest.mark.parametrize("style_name, start, end", [("plain", 40, 95), ("crop", 52, 110), ("caption", 80, 130)])
def test_a_gif_read_frame_by_frame_aligns_as_its_decoded_frames(media, style_name, start, end):
    """A path is decoded a frame at a time into the matched frames' luma; read_gif's frames give the same."""
    path = _gif(media, style_name, start, end)
    assert align_gif(media["index"], path) == align_gif(media["index"], read_gif(path))


def test_a_gif_on_a_canvas_over_max_luma_side_is_matched_shrunk_and_placed(media, tmp_path):
    """The plain GIF scaled 4x (1280x720, past MAX_LUMA_SIDE): matched on luma shrunk as it is
    decoded, it lands where the GIF itself does."""
    small = _gif(media, "plain", 40, 95)
    with Image.open(small) as gif:
        frames = [frame.convert("RGB").resize((gif.width * 4, gif.height * 4), Image.NEAREST)
                  for frame in ImageSequence.Iterator(gif)]
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    assert max(frames[0].size) > MAX_LUMA_SIDE
    big = tmp_path / "big.gif"
    frames[0].save(big, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    result = align_gif(media["index"], big)
    _assert_placed(result, 40, 95)
    assert result.start_frame == align_gif(media["index"], small).start_frame


def test_cli_prints_one_json_line_per_gif(media, capsys):
    gif = _gif(media, "plain", 40, 95)
    missing = media["root"] / "missing.gif"
    assert align_cli.main(["--video", str(media["bikes"]), "--gif", str(gif), "--gif", str(missing)]) == 1
    out, err = capsys.readouterr()
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["gif"] == str(gif) and first["aligned"] and first["start_frame"] == 40
    assert set(first) >= {"start_sec", "end_sec", "start_frame", "end_frame", "speed", "confidence"}
    assert not second["aligned"] and second["start_sec"] is None and second["reason"]
    assert "missing.gif" in err and len(err.strip().splitlines()) == 1


def test_cli_takes_a_pattern_of_gifs(media, capsys, tmp_path):
    """A quoted pattern (no shell expanded it) is the GIFs it matches, in name order; one matching
    nothing is one line and exit status 2, before the video is read."""
    folder = tmp_path / "gifs"
    folder.mkdir()
    for name, (start, end) in {"b.gif": (40, 95), "a.gif": (10, 60)}.items():
        (folder / name).write_bytes(_gif(media, "plain", start, end).read_bytes())
    assert align_cli.main(["--video", str(media["bikes"]), "--gif", str(folder / "*.gif")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["gif"], line["start_frame"]) for line in lines] == [(str(folder / "a.gif"), 10),
                                                                       (str(folder / "b.gif"), 40)]
    assert align_cli.main(["--video", str(media["bikes"]), "--gif", str(folder / "*.png")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "no file matches" in err


def test_cli_exit_codes(media, capsys, tmp_path):
    assert align_cli.main(["--video", str(media["bikes"]), "--gif", str(_gif(media, "plain", 40, 95))]) == 0
    one_frame = tmp_path / "one.gif"
    Image.new("RGB", (64, 36)).save(one_frame)
    assert align_cli.main(["--video", str(media["bikes"]), "--gif", str(one_frame)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["reason"].startswith(TOO_FEW_FRAMES)
    not_video = tmp_path / "notes.txt"
    not_video.write_text("not a video")
    assert align_cli.main(["--video", str(not_video), "--gif", str(one_frame)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "cannot read video" in err
    assert align_cli.main(["--video", str(media["bikes"])]) == 2  # --gif is required


def test_cli_starts_without_the_media_or_pipeline_stack():
    code = ("import sys; import pipelines.commands.align_video as c; c.build_parser(); "
            "print(any(m in sys.modules for m in "
            "('apache_beam', 'tensorflow', 'av', 'cv2', 'featurizer.align.aligner')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.stdout.strip() == "False", result.stderr


def test_featurizer_align_never_imports_beam_or_tensorflow():
    code = ("import sys, featurizer.align.aligner; "
            "print(any(m in sys.modules for m in ('apache_beam', 'tensorflow')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
