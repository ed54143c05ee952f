"""Features computed once: reruns decode only what is new, labels follow the GIFs without decoding,
and a featurize killed at any point leaves readable tables and a rerun that ends where a whole run ends."""
import shutil

import pytest

from featurizer.dataset import table_store, table_views, tables
from featurizer.dataset.blobs import BlobStore
from pipelines import featurize
from tests.killing import committed, contents, differing, kill_when, table_files
from tests.rows import alignment_rows, gif_rows_from_world, write_table

pytestmark = [pytest.mark.timeout(900), pytest.mark.filterwarnings("ignore:.*random")]

# The CPU's knobs, as `make demo` uses them: a quarter of the C3D work.
FAST = ["--fps", "12.5", "--snippet-stride", "16", "--no-mirror", "--batch-size", "4"]


def _featurize(root, *extra):
    return featurize.run(["--dataset", str(root), *FAST, *extra]).counters


def _versions(root):
    return {name: table_store.snapshot(str(root), spec).version for name, spec in tables.STORED_TABLES.items()}


def _content(root):
    """Every table's rows, dead letters without their times: what two equal runs agree on."""
    return contents(root, drop=("failed_at",))


@pytest.fixture(scope="module")
def base(tiny_world, tmp_path_factory):
    """A dataset whose last video's GIFs are not aligned yet, featurized once."""
    root = tmp_path_factory.mktemp("incremental")
    gif_rows = gif_rows_from_world(tiny_world, BlobStore(str(root)))
    alignments = alignment_rows(tiny_world, gif_rows)
    last_video = tiny_world.videos[-1]["video_id"]
    write_table(root, tables.GIFS, gif_rows)
    write_table(root, tables.ALIGNMENTS, [a for a in alignments if a["video_id"] != last_video])
    counters = _featurize(root)
    return root, gif_rows, alignments, last_video, counters


@pytest.fixture
def dataset(base, tmp_path):
    root, *rest = base
    copy = tmp_path / "data"
    shutil.copytree(root, copy)
    return copy, *rest


def test_first_run_featurizes_only_videos_with_aligned_gifs(base, tiny_world):
    root, _gifs, _alignments, last_video, counters = base
    assert counters["videos_segmented"] == len(tiny_world.videos) - 1
    features = table_store.snapshot(str(root), tables.FEATURES)
    assert len(features.files) == len(tiny_world.videos) - 1  # one file per video
    dead = table_views.read_view_rows(str(root), tables.DEADLETTER)
    assert [(d["stage"], d["error_kind"]) for d in dead if d["url"].endswith(f"{last_video}.mp4")] == [
        ("video", "no_aligned_gifs")]


def test_a_rerun_with_nothing_new_leaves_every_table_as_it_was(dataset):
    root, *_ = dataset
    before, content = _versions(root), _content(root)
    counters = _featurize(root)
    assert counters.get("videos_segmented", 0) == 0 and counters.get("snippets", 0) == 0
    assert _versions(root) == before  # no table got a new version
    after = _content(root)
    assert all(after[name].equals(content[name]) for name in content)


def test_one_new_video_costs_one_video_and_the_others_stay_bit_for_bit(dataset, tiny_world):
    root, _gifs, alignments, last_video, _counters = dataset
    old_files = set(table_store.snapshot(str(root), tables.FEATURES).files)
    write_table(root, tables.ALIGNMENTS, alignments)  # the last video's GIFs are aligned now
    counters = _featurize(root)
    assert counters["videos_segmented"] == 1
    new_files = set(table_store.snapshot(str(root), tables.FEATURES).files)
    assert old_files < new_files and len(new_files - old_files) == 1  # old files kept, untouched
    labels = table_store.read_table(str(root), tables.LABELS, columns=["video_id"]).column("video_id").to_pylist()
    assert last_video in labels
    dead = table_views.read_view_rows(str(root), tables.DEADLETTER)
    assert not [d for d in dead if d["error_kind"] == "no_aligned_gifs"]  # settled


def test_a_new_gif_on_a_featurized_video_relabels_it_without_decoding(dataset, tiny_world):
    root, gif_rows, alignments, last_video, _counters = dataset
    features_version = table_store.snapshot(str(root), tables.FEATURES).version
    # An ignored segment (GIFs overlap it, none covers 66%): a new GIF covering it makes it positive.
    target = min((r for r in table_store.read_rows(str(root), tables.LABELS) if r["label"] == -1),
                 key=lambda r: (r["video_id"], r["segment_index"]))
    video = target["video_id"]
    gif_of_video = next(g for g in gif_rows if g["video_id"] == video)
    new_gif = {**gif_of_video, "gif_id": "demo:new", "gif_url": "http://demo.test/media/gifs/new.gif"}
    new_alignment = {**next(a for a in alignments if a["video_id"] == video), "gif_id": "demo:new",
                     "start_frame": target["start_frame"], "end_frame": target["end_frame"]}
    write_table(root, tables.GIFS, [*gif_rows, new_gif])
    write_table(root, tables.ALIGNMENTS, [a for a in alignments if a["video_id"] != last_video] + [new_alignment])
    counters = _featurize(root)
    assert counters.get("videos_segmented", 0) == 0  # no decode, no C3D
    assert table_store.snapshot(str(root), tables.FEATURES).version == features_version
    labels_after = {(r["video_id"], r["segment_index"]): r for r in table_store.read_rows(str(root), tables.LABELS)}
    relabelled = labels_after[(video, target["segment_index"])]
    assert relabelled["label"] == 1 and relabelled["gif_ids"] == ["demo:new"]


KILL_POINTS = {
    "after_a_features_file_before_any_commit": lambda root: bool(table_files(root, "features")),
    "between_the_features_and_labels_commits": lambda root: committed(root, "features"),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_kill_9_at_any_point_then_rerun_ends_where_a_whole_run_ends(tiny_world, tmp_path, point):
    gif_rows = gif_rows_from_world(tiny_world, BlobStore(str(tmp_path / "whole")))
    alignments = alignment_rows(tiny_world, gif_rows)
    for name in ("whole", "killed"):
        gif_rows_from_world(tiny_world, BlobStore(str(tmp_path / name)))
        write_table(tmp_path / name, tables.GIFS, gif_rows)
        write_table(tmp_path / name, tables.ALIGNMENTS, alignments)
    killed = tmp_path / "killed"
    before = _content(killed)
    _featurize(tmp_path / "whole")
    whole = _content(tmp_path / "whole")
    kill_when("pipelines.featurize", ["--dataset", str(killed), *FAST], lambda: KILL_POINTS[point](killed))
    # Every table reads, with its old content or its new, never a part.
    after_kill = _content(killed)
    for name, table in after_kill.items():
        assert table.equals(before[name]) or table.equals(whole[name]), name
    if point == "after_a_features_file_before_any_commit":
        assert differing(after_kill, before) == set()
    else:  # the features are in; labels and dead letters may be too, the kill racing their commits
        assert after_kill["features"].equals(whole["features"])
    _featurize(killed)
    assert differing(whole, _content(killed)) == set()
