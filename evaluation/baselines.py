"""The evaluation's own baseline, which scores no segment: --model upper-bound, the paper's
approximate upper bound (users' GIFs scored against each other's: evaluation.protocol.bound_video).
Every other --model is a scorer (trainer.scoring): an exported ranker, or random[:seed].

    open_scorer("JOB/model")     # an exported ranker (trainer.export.Ranker)
    open_scorer("random")        # the paper's chance level; "random:7" seeds it
    open_scorer("upper-bound")   # ValueError: an evaluation, not a scorer
"""
from __future__ import annotations

from trainer import scoring
from trainer.scoring import Scorer

UPPER_BOUND = "upper-bound"


def is_upper_bound(model: str) -> bool:
    return model == UPPER_BOUND


def open_scorer(model: str) -> Scorer:
    """A scorer by name (trainer.scoring.open_scorer); the upper bound is refused: it scores no segment."""
    if is_upper_bound(model):
        raise ValueError(f"{UPPER_BOUND} scores no segment: it is an evaluation "
                         f"(gifrank evaluate --model {UPPER_BOUND})")
    return scoring.open_scorer(model)
