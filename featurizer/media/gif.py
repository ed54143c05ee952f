"""Animated GIFs: a structural inspection that refuses bombs before any pixel is
decoded, and decoding into frames composited the way browsers show them.

The structure bounds the work as well as the result: the canvas, the frame count and
all frames' decoded bytes (MAX_GIF_DECODED_BYTES), and each image's pixels outside the
canvas (at most the canvas's own count), so the LZW work is at most twice the pixels
composited and a 1x1 canvas never costs a 4096x4096 decode per frame. Decoding goes one
frame at a time over one canvas (GifReader): memory is the canvas and one image besides
what the caller keeps, all frames (read_gif) or a small picture of some (the aligner).

Compositing is done here rather than by Pillow's ImageSequence, which deviates from
browsers on real files: Pillow keeps a frame's disposal method for later frames that
leave it unspecified, restores disposed areas to the background colour instead of
transparency, and grows the canvas for frames reaching past it. Pillow still does
the LZW decoding, one frame at a time.
"""
from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from featurizer.media.errors import DECOMPRESSION_BOMB, NO_FRAMES, NOT_A_GIF, UNREADABLE, MediaError

MAX_CANVAS_PIXELS = 4096 * 4096
MAX_GIF_FRAMES = 3000
MAX_GIF_BYTES = 64 * 2**20
MAX_GIF_DECODED_BYTES = 2**30  # all composited RGB frames together
# Palette lookups write this many pixels at a time, so their temporaries stay a few MB
# whatever the image (a 4096x4096 one would otherwise need 64 MB of looked-up colours).
_STRIP_PIXELS = 2**20

# Browsers show delays of 0 or 1 centisecond (meaning "as fast as possible") as 10 cs.
FASTEST_DELAY_CS = 1
SUBSTITUTE_DELAY_SEC = 0.1

# Pixels no frame has painted, or that a disposal cleared, are transparent; a browser
# shows the page behind them. That page is unknowable, so they are black here.
TRANSPARENT_RGB = (0, 0, 0)

_SIGNATURES = (b"GIF87a", b"GIF89a")
_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_GRAPHIC_CONTROL_LABEL = 0xF9
_RESTORE_TO_TRANSPARENT, _RESTORE_TO_PREVIOUS = 2, 3
_BYTES_NAME = "<bytes>"


@dataclass(frozen=True)
class GifInfo:
    width: int
    height: int
    num_frames: int
    durations_sec: tuple[float, ...]


@dataclass
class GifFrames:
    frames: np.ndarray  # uint8 (n, H, W, 3) RGB, composited as a browser shows them
    start_times: np.ndarray  # float64 (n,) seconds at which each frame appears, first 0
    durations: np.ndarray  # float64 (n,) seconds each frame stays

    @property
    def duration_sec(self) -> float:
        return float(self.durations.sum())

    @property
    def num_frames(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class _FrameLayout:
    """Where one image sits on the canvas and where its compressed pixels are."""

    left: int
    top: int
    width: int
    height: int
    interlaced: bool
    local_palette: bytes | None
    lzw_start: int  # offset of the LZW minimum code size byte
    lzw_end: int  # offset just past the block terminator
    delay_cs: int
    disposal: int
    transparent_index: int | None


@dataclass(frozen=True)
class _GifLayout:
    width: int
    height: int
    global_palette: bytes | None
    frames: tuple[_FrameLayout, ...]


@dataclass(frozen=True)
class _GraphicControl:
    delay_cs: int = 0
    disposal: int = 0
    transparent_index: int | None = None


def _frame_duration_sec(delay_cs: int) -> float:
    return SUBSTITUTE_DELAY_SEC if delay_cs <= FASTEST_DELAY_CS else delay_cs / 100.0


class _BlockReader:
    """Reads a GIF's blocks; running out of bytes inside a block means truncation."""

    def __init__(self, data: bytes, name: str):
        self.data = data
        self.name = name
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MediaError(UNREADABLE, self.name, f"truncated at byte {len(self.data)}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def skip_sub_blocks(self):
        data, pos, end = self.data, self.pos, len(self.data)
        while True:
            if pos >= end:
                raise MediaError(UNREADABLE, self.name, f"truncated at byte {end}")
            size = data[pos]
            pos += 1
            if size == 0:
                break
            pos += size
            if pos > end:
                raise MediaError(UNREADABLE, self.name, f"truncated at byte {end}")
        self.pos = pos

    def color_table(self, packed: int) -> bytes | None:
        if not packed & 0x80:
            return None
        return self.take(3 << ((packed & 0x07) + 1))


def _read_graphic_control(reader: _BlockReader) -> _GraphicControl:
    size = reader.byte()
    body = reader.take(size)
    reader.skip_sub_blocks()
    if size < 4:
        return _GraphicControl()  # malformed; browsers ignore it too
    packed, delay_cs, transparent = struct.unpack("<BHB", body[:4])
    return _GraphicControl(
        delay_cs=delay_cs,
        disposal=(packed >> 2) & 0x07,
        transparent_index=transparent if packed & 0x01 else None,
    )


def _shown_span(start: int, length: int, limit: int) -> slice:
    """The part of [start, start + length) inside [0, limit): browsers clip the rest."""
    return slice(min(start, limit), min(start + length, limit))


def _check_image_work(name: str, left: int, top: int, width: int, height: int,
                      canvas_width: int, canvas_height: int) -> None:
    """Pillow decodes a whole image, but browsers show only its part on the canvas: an image
    may reach past the canvas by at most the canvas's own pixel count, so decoding never
    costs more than twice what is composited."""
    if width * height > MAX_CANVAS_PIXELS:
        raise MediaError(DECOMPRESSION_BOMB, name,
                         f"an image of {width}x{height} exceeds {MAX_CANVAS_PIXELS} pixels")
    rows, cols = _shown_span(top, height, canvas_height), _shown_span(left, width, canvas_width)
    outside = width * height - (rows.stop - rows.start) * (cols.stop - cols.start)
    if outside > canvas_width * canvas_height:
        raise MediaError(DECOMPRESSION_BOMB, name,
                         f"an image of {width}x{height} at ({left}, {top}) has {outside:,} pixels outside the "
                         f"{canvas_width}x{canvas_height} canvas, more than the canvas holds: decoding them "
                         "would be wasted work")


def _read_image(reader: _BlockReader, control: _GraphicControl, canvas_width: int,
                canvas_height: int) -> _FrameLayout:
    left, top, width, height, packed = struct.unpack("<HHHHB", reader.take(9))
    _check_image_work(reader.name, left, top, width, height, canvas_width, canvas_height)
    local_palette = reader.color_table(packed)
    lzw_start = reader.pos
    reader.byte()  # LZW minimum code size
    reader.skip_sub_blocks()
    return _FrameLayout(left, top, width, height, bool(packed & 0x40), local_palette,
                        lzw_start, reader.pos, control.delay_cs, control.disposal,
                        control.transparent_index)


def _read_layout(data: bytes, name: str, max_frames: int) -> _GifLayout:
    """Walks the block structure, skipping compressed pixel data, refusing bombs early."""
    if len(data) > MAX_GIF_BYTES:
        raise MediaError(DECOMPRESSION_BOMB, name, f"{len(data)} bytes exceed {MAX_GIF_BYTES}")
    if data[:6] not in _SIGNATURES:
        raise MediaError(NOT_A_GIF, name, "no GIF signature")
    reader = _BlockReader(data, name)
    reader.take(6)
    width, height, packed, _background, _aspect = struct.unpack("<HHBBB", reader.take(7))
    if width * height == 0:
        raise MediaError(UNREADABLE, name, f"empty logical screen {width}x{height}")
    if width * height > MAX_CANVAS_PIXELS:
        raise MediaError(DECOMPRESSION_BOMB, name,
                         f"a canvas of {width}x{height} exceeds {MAX_CANVAS_PIXELS} pixels")
    max_frames = min(max_frames, MAX_GIF_DECODED_BYTES // (width * height * 3))
    global_palette = reader.color_table(packed)
    frames: list[_FrameLayout] = []
    control = _GraphicControl()
    # Browsers stop at the trailer, at the end of the data, or at any byte that starts
    # no block (trailing junk is common); running out inside a block is truncation.
    while not reader.at_end():
        introducer = reader.byte()
        if introducer == _IMAGE:
            frames.append(_read_image(reader, control, width, height))
            control = _GraphicControl()  # a graphic control applies to one image only
            if len(frames) > max_frames:
                raise MediaError(DECOMPRESSION_BOMB, name,
                                 f"more than {max_frames} frames of {width}x{height}")
        elif introducer == _EXTENSION:
            if reader.byte() == _GRAPHIC_CONTROL_LABEL:
                control = _read_graphic_control(reader)
            else:
                reader.skip_sub_blocks()
        else:
            break
    if not frames:
        raise MediaError(NO_FRAMES, name, "no image in the GIF")
    return _GifLayout(width, height, global_palette, tuple(frames))


def _load_bytes(data_or_path) -> tuple[bytes, str]:
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        return bytes(data_or_path), _BYTES_NAME
    name = os.fspath(data_or_path)
    size = os.path.getsize(name)
    if size > MAX_GIF_BYTES:
        raise MediaError(DECOMPRESSION_BOMB, str(name), f"{size} bytes exceed {MAX_GIF_BYTES}")
    with open(name, "rb") as file:
        return file.read(), str(name)


def inspect_gif(data_or_path) -> GifInfo:
    """Size, frame count and frame durations from the block structure alone.

    Refuses MediaError('decompression_bomb') for files over MAX_GIF_BYTES, canvases or
    images over MAX_CANVAS_PIXELS, images with more pixels outside the canvas than it
    holds, more than MAX_GIF_FRAMES frames, or frames totalling over MAX_GIF_DECODED_BYTES
    once decoded. Durations come from the Graphic Control Extension delays; delays of 0 or
    1 cs, or none, count as 0.1 s, as browsers play them.
    """
    return GifReader(data_or_path).info()


# Decoding one image through Pillow: a standalone GIF holding just that image under a
# grey-ramp palette, which Pillow opens as mode 'L' whose values are the palette indices.
_INDEX_PALETTE = bytes(np.repeat(np.arange(256, dtype=np.uint8), 3))
_INDEX_SCREEN_FLAGS = 0x87  # global colour table of 256 entries


def _decode_indices(data: bytes, name: str, frame: _FrameLayout) -> np.ndarray:
    standalone = b"".join([
        b"GIF89a",
        struct.pack("<HHBBB", frame.width, frame.height, _INDEX_SCREEN_FLAGS, 0, 0),
        _INDEX_PALETTE,
        struct.pack("<BHHHHB", _IMAGE, 0, 0, frame.width, frame.height,
                    0x40 if frame.interlaced else 0),
        memoryview(data)[frame.lzw_start:frame.lzw_end],  # copied once, by the join
        bytes([_TRAILER]),
    ])
    try:
        with Image.open(io.BytesIO(standalone), formats=["GIF"]) as image:
            image.load()
            mode, size, indices = image.mode, image.size, np.asarray(image)
    except Image.DecompressionBombError as error:
        raise MediaError(DECOMPRESSION_BOMB, name, str(error)) from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise MediaError(UNREADABLE, name, f"corrupt image data: {error}") from error
    if mode != "L" or size != (frame.width, frame.height):
        raise MediaError(UNREADABLE, name, f"image data decoded as {mode} {size}")
    return indices


def _palette_rgb(table: bytes | None) -> np.ndarray:
    """(256, 3) lookup; indices past the table's end show black. Without any table,
    a grey ramp, as the GIF specification leaves it to the decoder."""
    if table is None:
        return np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    rgb = np.zeros((256, 3), dtype=np.uint8)
    colours = np.frombuffer(table, dtype=np.uint8).reshape(-1, 3)[:256]
    rgb[:len(colours)] = colours
    return rgb


def _visible_region(frame: _FrameLayout, width: int, height: int):
    """Canvas slices of the part of the image inside the canvas."""
    return _shown_span(frame.top, frame.height, height), _shown_span(frame.left, frame.width, width)


def _packed_palette(table: bytes | None) -> np.ndarray:
    """(256,) uint32: _palette_rgb's colours as RGBX pixels, one machine word each."""
    rgbx = np.zeros((256, 4), dtype=np.uint8)
    rgbx[:, :3] = _palette_rgb(table)
    return rgbx.view(np.uint32)[:, 0]


def _paint(region: np.ndarray, indices: np.ndarray, palette: np.ndarray, transparent_index: int | None) -> None:
    """The image's colours into the canvas region, transparent pixels left alone, a strip of
    rows at a time (_STRIP_PIXELS)."""
    rows_per_strip = max(1, _STRIP_PIXELS // max(1, region.shape[1]))
    for top in range(0, region.shape[0], rows_per_strip):
        strip = slice(top, top + rows_per_strip)
        colours = np.take(palette, indices[strip])
        if transparent_index is None:
            region[strip] = colours
        else:
            np.copyto(region[strip], colours, where=indices[strip] != transparent_index)


class GifReader:
    """A GIF whose structure passed inspect_gif's checks, decoded on demand one frame at a time.

    Constructing it reads only the block structure, so bombs are refused before any pixel is
    decoded. canvases() then plays the animation onto one canvas: disposals carry each frame
    into the next, so every frame up to the last one asked for is decoded, but only the
    canvas and one image are held, whatever the frame count.
    """

    def __init__(self, data_or_path, max_frames: int = MAX_GIF_FRAMES):
        self._data, self.name = _load_bytes(data_or_path)
        self._layout = _read_layout(self._data, self.name, max_frames)
        self.durations = np.array([_frame_duration_sec(frame.delay_cs) for frame in self._layout.frames])
        self.start_times = np.concatenate([[0.0], np.cumsum(self.durations)[:-1]])

    @property
    def width(self) -> int:
        return self._layout.width

    @property
    def height(self) -> int:
        return self._layout.height

    @property
    def num_frames(self) -> int:
        return len(self._layout.frames)

    @property
    def duration_sec(self) -> float:
        return float(self.durations.sum())

    def info(self) -> GifInfo:
        return GifInfo(self.width, self.height, self.num_frames, tuple(float(d) for d in self.durations))

    def canvases(self, wanted=None) -> Iterator[tuple[int, np.ndarray]]:
        """(index, canvas) for each wanted frame index (None: all), in frame order.

        The canvas is (H, W, 4) uint8 RGBX, read-only, as a browser shows it once that frame
        is drawn; the next frame overwrites it, so convert or copy it before asking for more.
        It holds RGBX pixels viewed as one uint32 each, so palette lookups, masked
        (transparent) writes and disposals move one word per pixel, not three bytes.
        """
        layout = self._layout
        wanted = set(range(self.num_frames)) if wanted is None else {int(i) for i in wanted}
        rgbx = np.zeros((layout.height, layout.width, 4), dtype=np.uint8)
        rgbx[..., :3] = TRANSPARENT_RGB
        canvas = rgbx.view(np.uint32)[..., 0]  # a view: writes go to rgbx
        shown = rgbx.view()
        shown.flags.writeable = False
        transparent = canvas[0, 0].copy()
        global_colours = _packed_palette(layout.global_palette)
        last = max(wanted, default=-1)
        for i, frame in enumerate(layout.frames[:last + 1]):
            rows, cols = _visible_region(frame, layout.width, layout.height)
            region = canvas[rows, cols]  # a view: writes go to the canvas
            previous = region.copy() if frame.disposal == _RESTORE_TO_PREVIOUS else None
            if region.size:
                indices = _decode_indices(self._data, self.name, frame)[:region.shape[0], :region.shape[1]]
                palette = _packed_palette(frame.local_palette) if frame.local_palette else global_colours
                _paint(region, indices, palette, frame.transparent_index)
                del indices  # the image goes before the next one is decoded
            if i in wanted:
                yield i, shown
            if frame.disposal == _RESTORE_TO_TRANSPARENT:
                region[:] = transparent
            elif frame.disposal == _RESTORE_TO_PREVIOUS:
                region[:] = previous


def read_gif(data_or_path, max_frames=MAX_GIF_FRAMES) -> GifFrames:
    """All frames, composited as a browser shows them, with their real timing.

    The structure is checked as by inspect_gif (max_frames replacing MAX_GIF_FRAMES)
    before any pixel is decoded. A one-frame GIF is returned like any other. Memory is the
    frames (at most MAX_GIF_DECODED_BYTES) plus one canvas and one image.
    """
    reader = GifReader(data_or_path, max_frames)
    frames = np.empty((reader.num_frames, reader.height, reader.width, 3), dtype=np.uint8)
    for i, canvas in reader.canvases():
        cv2.cvtColor(canvas, cv2.COLOR_RGBA2RGB, dst=frames[i])
    return GifFrames(frames, reader.start_times, reader.durations)
