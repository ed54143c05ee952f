"""Recognise media by their first bytes, not by what a server claims in Content-Type."""
from __future__ import annotations

GIF_SIGNATURES = (b"GIF87a", b"GIF89a")


def is_gif(head: bytes) -> bool:
    return head[:6] in GIF_SIGNATURES


def video_container(head: bytes) -> str | None:
    """The container format a file starts like, or None when it looks like no video."""
    if head[4:8] == b"ftyp":
        return "mp4"  # ISO base media: mp4, mov, 3gp, m4v
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"  # mkv and webm
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] == b"OggS":
        return "ogg"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "mpegts"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg-ps"
    return None
