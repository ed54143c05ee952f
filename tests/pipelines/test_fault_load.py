"""The scrape with faults of every kind on DirectRunner's multi_processing mode (2 workers), as
bench.fault_load runs it at 10,000 pages, here at a size a test affords."""
import collections

import pytest

from bench.fault_load import FAULTS, parse_args, run

pytestmark = pytest.mark.timeout(900)


def test_every_gif_is_accounted_for_per_kind_and_a_rerun_fetches_nothing_that_succeeded():
    # in bounded runs of 80 pages: 160 pages take 3 runs (the last finds none left), 80 pages 2
    small, big_pages = 5 * len(FAULTS), 10 * len(FAULTS)
    report = run(parse_args(["--pages", str(big_pages), "--small-pages", str(small), "--fault-share", "0.2",
                             "--pages-per-run", "80"]))
    for pages, result in report["runs"].items():
        assert result["faults_injected"] == pages // 5
        assert result["every_gif_accounted"] and result["per_kind_as_injected"], result
        assert result["rows"] + result["dead_letters"] == pages
        assert result["refetched_after_success"] == 0  # the rerun read no stored GIF's page or media again
        assert result["first"]["stderr_bytes"] < 200_000  # no megabyte-long URL in the log
    # two of every kind at the bigger size; the retried 500s and the 23-digit views among the stored GIFs
    big = report["runs"][big_pages]
    kinds = collections.Counter(f"{'gif_page' if w == 'page' else 'gif_media'}/{k}" for w, _s, k in FAULTS if k)
    assert big["per_kind"] == {kind: 2 * n for kind, n in kinds.items()}
    assert big["stored_despite_fault"] == {"flaky500:1": 2, "huge_views": 2} and big["views_nulled"] == 2
    # peak memory of the runner, of its workers (2 SDK processes) and of the tree, at both sizes
    for result in report["runs"].values():
        first = result["first"]
        assert first["runner_peak_rss_mib"] > 50 and first["worker_peak_rss_mib"] > 50
        assert first["tree_peak_rss_mib"] > max(first["runner_peak_rss_mib"], first["worker_peak_rss_mib"])
    assert set(report["peak_rss_ratio_large_to_small"]) == {"peak_rss", "runner_peak_rss", "worker_peak_rss",
                                                             "tree_peak_rss"}
