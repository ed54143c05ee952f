"""The paper's findings (section 5.2) as paired tests on one evaluation's runs: do they hold here?

    findings = check_findings({"adaptive_huber": {video: nmsd}, "classification": {...}, ...})
    print(markdown(findings))

Runs are named by METHODS' keys; a finding is checked when both of its runs are there. Each
compares per-video nMSD on the videos both runs scored (evaluation.intervals: the mean
difference with a bootstrap interval, and a Wilcoxon signed-rank test); a finding that one
method beats another holds when its nMSD is lower and p < 0.05, and one that two methods do
alike holds when p >= 0.05.
"""
from __future__ import annotations

from dataclasses import dataclass

from evaluation.intervals import PairedComparison, format_estimate, paired_comparison

SIGNIFICANCE = 0.05

# Table 2's rows: key -> the name the table prints.
METHODS = {
    "random": "Random",
    "ranksvm": "Domain-spec. rankSVM",
    "classification": "Classification",
    "video_agnostic": "Rank, video agnostic",
    "l1": "Rank, l1 loss",
    "l2": "Rank, l2 loss",
    "huber": "Rank, Huber loss",
    "adaptive_huber": "Rank, adaptive Huber loss",
    "adaptive_huber_context": "Rank, adaptive Huber loss + context (Ours)",
    "model_averaging": "Ours + model averaging",
    "upper_bound": "Approx. bound",
}


@dataclass(frozen=True)
class Claim:
    text: str
    first: str  # METHODS keys
    second: str
    kind: str = "better"  # better: first's nMSD is lower; alike: no significant difference


CLAIMS = (
    Claim("a ranker beats random", "adaptive_huber", "random"),
    Claim("ranking beats classification", "adaptive_huber", "classification"),
    Claim("video-specific pairs beat video-agnostic ones", "adaptive_huber", "video_agnostic"),
    Claim("the Huber loss beats l2 under outliers", "huber", "l2"),
    Claim("the adaptive Huber loss beats l2 under outliers", "adaptive_huber", "l2"),
    Claim("ours beats the domain-specific rankSVM", "adaptive_huber_context", "ranksvm"),
    Claim("context changes little", "adaptive_huber_context", "adaptive_huber", "alike"),
    Claim("model averaging helps", "model_averaging", "adaptive_huber_context"),
    Claim("users agree with each other more than with a ranker", "upper_bound", "adaptive_huber"),
)


@dataclass(frozen=True)
class Finding:
    claim: Claim
    comparison: PairedComparison  # first - second

    @property
    def verdict(self) -> str:
        lower, significant = self.comparison.difference.mean < 0, self.comparison.p_value < SIGNIFICANCE
        if self.claim.kind == "alike":
            return "differs significantly: does not hold" if significant else "holds"
        if lower:
            return "holds" if significant else "same direction, not significant"
        return "the opposite is significant: does not hold" if significant else "does not hold (not significant)"

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"


def check_findings(nmsd_by_method: dict[str, dict[str, float]], seed: int = 0) -> list[Finding]:
    """Every claim whose two runs are in `nmsd_by_method` ({method key: {video_id: nMSD}})."""
    unknown = sorted(set(nmsd_by_method) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}: runs are named by {', '.join(METHODS)}")
    return [Finding(c, paired_comparison(nmsd_by_method[c.first], nmsd_by_method[c.second], seed=seed))
            for c in CLAIMS if c.first in nmsd_by_method and c.second in nmsd_by_method]


def finding_row(finding: Finding) -> dict:
    """A finding as the table's cells: claim, compared, difference, p, verdict."""
    difference = format_estimate(finding.comparison.difference.as_dict(), percent=True).replace("%", " pts", 1)
    compared = f"{METHODS[finding.claim.first]} vs {METHODS[finding.claim.second]}"
    return {"claim": finding.claim.text, "compared": compared,
            "difference": difference, "p": f"{finding.comparison.p_value:.3g}", "verdict": finding.verdict}


def markdown(findings: list[Finding]) -> str:
    lines = ["| The paper's finding | compared | nMSD difference | p | here |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(finding_row(f).values()) + " |" for f in findings]
    return "\n".join(lines) + "\n"
