"""GIFs as sites optimise them (gifsicle, ImageMagick: the Debian packages `make test` installs):
decoded as browsers show them, and aligned to their video.

A GIF of real footage (bikes.mp4) is made by ffmpeg, then optimised. Each decodes to exactly the
frames ImageMagick shows for it (its -coalesce); a lossless optimisation to the very frames of the
GIF it came from, the others close to them (ImageMagick's -layers optimisations re-quantise
colours); and every one aligns to the video where it was cut."""
import shutil

import numpy as np
import pytest

from demo_world import web_gifs
from demo_world.videos import ffmpeg_exe, footage_dir, run_ffmpeg
from featurizer.align.aligner import align_gif
from featurizer.align.video_index import index_video
from featurizer.media.gif import read_gif

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(not (shutil.which("gifsicle") and shutil.which("convert")),
                                 reason="gifsicle and ImageMagick come with `make test` (make media-tools)")]
START, LENGTH = 1.0, 1.6
# name -> the command that makes it from the plain GIF (IN, OUT), and whether it is lossless: the
# commands sites run, as demo_world.web_gifs writes them (gifsicle -O3 and --lossy, ImageMagick's
# -layers optimisations, fuzzy transparency, disposal methods)
OPTIMISERS = {name: (list(command), name in web_gifs.LOSSLESS_OPTIMISERS)
              for name, command in web_gifs.OPTIMISERS.items()}


def _run(*args) -> bytes:
    return run_ffmpeg([str(a) for a in args])  # any tool: its output, or its stderr's tail on failure


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("optimised")
    video = root / "bikes.mp4"
    _run(ffmpeg_exe(), "-hide_banner", "-y", "-i", footage_dir() / "bikes.mp4", "-t", "4", "-vf",
         "scale=320:136,fps=25", "-c:v", "libx264", "-crf", "16", "-pix_fmt", "yuv420p", video)
    plain = root / "plain.gif"
    _run(ffmpeg_exe(), "-hide_banner", "-y", "-ss", START, "-t", LENGTH, "-i", video, "-vf",
         "fps=12.5,scale=240:-1:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse", plain)
    gifs = {"plain": plain}
    for name, (command, _lossless) in OPTIMISERS.items():
        gifs[name] = root / f"{name}.gif"
        _run(*[plain if a == "IN" else gifs[name] if a == "OUT" else a for a in command])
    return video, gifs


@pytest.mark.parametrize("name", ["plain", *sorted(OPTIMISERS)])
def test_a_gif_decodes_as_imagemagick_shows_it(made, name):
    _video, gifs = made
    frames = read_gif(gifs[name]).frames
    shown = _run("convert", gifs[name], "-coalesce", "-depth", "8", "rgb:-")
    assert np.array_equal(frames, np.frombuffer(shown, np.uint8).reshape(frames.shape))


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
def test_an_optimised_gif_shows_the_frames_it_was_made_from(made, name):
    _video, gifs = made
    plain, optimised = read_gif(gifs["plain"]).frames, read_gif(gifs[name]).frames
    assert optimised.shape == plain.shape
    difference = np.abs(optimised.astype(int) - plain.astype(int))
    if OPTIMISERS[name][1]:
        assert difference.max() == 0
    else:
        assert difference.mean() < 12


@pytest.mark.parametrize("name", ["plain", *sorted(OPTIMISERS)])
def test_an_optimised_gif_aligns_to_its_video(made, name):
    video, gifs = made
    alignment = align_gif(index_video(video), gifs[name])
    assert alignment.aligned, alignment.reason
    assert abs(alignment.start_sec - START) <= 0.1 and abs(alignment.end_sec - (START + LENGTH)) <= 0.15
