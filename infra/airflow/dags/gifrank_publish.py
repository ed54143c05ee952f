"""Whether a newly trained ranker replaces the published one: plain Python, no Airflow, so it is
tested beside the code (tests/infra/test_airflow_dag.py) and the DAG only calls it.

Both rankers are evaluated on today's test split by the same evaluation (gifrank evaluate,
metrics.json), so their mean nMSD compare: the new one is published when it is not worse
(its nMSD, lower is better, at most the current one's), or when none is published yet.
"""
from __future__ import annotations


def not_worse(new: dict, current: dict | None) -> tuple[bool, str]:
    """(publish?, why) from two metrics.json documents (current None: nothing published yet)."""
    if not new.get("nmsd") or not new.get("videos"):
        return False, "the new ranker's evaluation scored no video"
    if current is None:
        return True, "nothing is published yet"
    if not current.get("nmsd"):
        return True, "the published ranker's evaluation scored no video"
    new_nmsd, current_nmsd = new["nmsd"]["mean"], current["nmsd"]["mean"]
    if new_nmsd <= current_nmsd:
        return True, f"test nMSD {new_nmsd:.4f} is not worse than the published {current_nmsd:.4f}"
    return False, f"test nMSD {new_nmsd:.4f} is worse than the published {current_nmsd:.4f}"
