"""Why a piece of media was refused, in a form a pipeline can count, log and pickle."""
from __future__ import annotations

UNREADABLE = "unreadable"  # corrupt, truncated, or not media at all
NO_FRAMES = "no_frames"
TOO_FEW_FRAMES = "too_few_frames"
DECOMPRESSION_BOMB = "decompression_bomb"  # would take more memory or work than the limits allow
NOT_A_GIF = "not_a_gif"
TOO_LONG = "too_long"

KINDS = (UNREADABLE, NO_FRAMES, TOO_FEW_FRAMES, DECOMPRESSION_BOMB, NOT_A_GIF, TOO_LONG)


class MediaError(ValueError):
    """A media file that cannot be used; `kind` is one of KINDS."""

    def __init__(self, kind: str, path: str, detail: str):
        super().__init__(f"{path}: {detail} [{kind}]")
        self.kind = kind
        self.path = path
        self.detail = detail

    def __reduce__(self):
        # The default would call MediaError(message), which has the wrong arity.
        return (MediaError, (self.kind, self.path, self.detail))
