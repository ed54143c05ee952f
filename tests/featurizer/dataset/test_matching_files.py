"""File patterns as users pass them (Beam's and TensorFlow's way): a file, a folder, or a glob, on local
disk and on GCS (a real emulator, where folders are only prefixes of object names)."""
import pytest

from featurizer.dataset.storage import DatasetRoot, matching_files

pytestmark = pytest.mark.timeout(120)

NAMES = ["segs/part-0.parquet", "segs/part-1.parquet", "segs/part-10.parquet", "segs/_SUCCESS",
         "segs/day=2/part-0.parquet", "segs/day=2/deep/part-5.parquet", "segs/day=3/notes.txt", "other/x.parquet"]


@pytest.fixture(params=["local", "gs"])
def place(request, tmp_path) -> str:
    """A folder holding NAMES, on local disk or in a bucket on the GCS emulator."""
    where = str(tmp_path / "place") if request.param == "local" else request.getfixturevalue("gcs_bucket") + "/place"
    root = DatasetRoot.open(where)
    for name in NAMES:
        root.write_bytes(name.encode(), *name.split("/"))
    return where


def _names(place: str, found: list[str]) -> list[str]:
    assert all(f.startswith(place + "/") for f in found), found  # given as the pattern was: a path, or a URI
    return [f[len(place) + 1:] for f in found]


def test_a_file_is_itself(place):
    assert _names(place, matching_files(f"{place}/segs/_SUCCESS", ".parquet")) == ["segs/_SUCCESS"]


def test_a_folder_is_its_files_below_it_with_the_suffix(place):
    assert _names(place, matching_files(f"{place}/segs", ".parquet")) == [
        "segs/day=2/deep/part-5.parquet", "segs/day=2/part-0.parquet", "segs/part-0.parquet", "segs/part-1.parquet",
        "segs/part-10.parquet"]
    assert len(matching_files(f"{place}/segs/")) == 7  # no suffix: every file


def test_glob_patterns(place):
    def names(pattern: str) -> list[str]:
        return _names(place, matching_files(f"{place}/{pattern}", ".parquet"))

    assert names("segs/*.parquet") == ["segs/part-0.parquet", "segs/part-1.parquet", "segs/part-10.parquet"]
    assert names("segs/part-?.parquet") == ["segs/part-0.parquet", "segs/part-1.parquet"]
    assert names("segs/part-[!1].parquet") == ["segs/part-0.parquet"]
    assert names("segs/part-1[0-9].parquet") == ["segs/part-10.parquet"]
    assert names("segs/*") == ["segs/_SUCCESS", "segs/part-0.parquet", "segs/part-1.parquet",
                               "segs/part-10.parquet"]  # the pattern's own choice: no suffix, no folders
    assert names("segs/*/part-*.parquet") == ["segs/day=2/part-0.parquet"]
    assert names("segs/**/part-0.parquet") == ["segs/day=2/part-0.parquet", "segs/part-0.parquet"]
    assert names("*/**/*.parquet") == ["other/x.parquet", "segs/day=2/deep/part-5.parquet",
                                       "segs/day=2/part-0.parquet", "segs/part-0.parquet", "segs/part-1.parquet",
                                       "segs/part-10.parquet"]
    assert names("segs/day=*/**") == ["segs/day=2/deep/part-5.parquet", "segs/day=2/part-0.parquet",
                                      "segs/day=3/notes.txt"]


@pytest.mark.parametrize("pattern", ["missing.parquet", "missing/", "segs/*.csv", "nowhere/**/*.parquet",
                                     "segs/day=3"])
def test_nothing_matching_is_an_error(place, pattern):
    with pytest.raises(FileNotFoundError, match=f"^{place}/{pattern}: no file matches$".replace("*", r"\*")):
        matching_files(f"{place}/{pattern}", ".parquet")


def test_a_relative_path_is_a_local_one(tmp_path, monkeypatch):
    (tmp_path / "segs").mkdir()
    (tmp_path / "segs" / "a.parquet").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert matching_files("segs/*.parquet") == [str(tmp_path / "segs" / "a.parquet")]


def test_command_arguments_expand_only_their_patterns(place):
    from featurizer.dataset.storage import expand_patterns

    named = [f"{place}/segs/_SUCCESS", f"{place}/segs/part-1?.parquet", f"{place}/not/there.mp4"]
    # a pattern is its files; a plain path stays as given (the command reports a missing one)
    assert expand_patterns(named) == [f"{place}/segs/_SUCCESS", f"{place}/segs/part-10.parquet",
                                      f"{place}/not/there.mp4"]
    with pytest.raises(FileNotFoundError, match="no file matches"):
        expand_patterns([f"{place}/segs/*.mp4"])
