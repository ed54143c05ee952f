"""What commands check about a root or an output before they work, and folders copied into a root:
on local disk (files where folders should be) and on GCS (a real emulator, where folders are only
prefixes of object names)."""
import re

import pytest

from featurizer.dataset.storage import DatasetRoot, RootNotWritable, check_output_file

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["local", "gs"])
def place(request, tmp_path):
    """A folder-to-be on local disk or in a bucket on the GCS emulator: nothing is stored there yet."""
    if request.param == "local":
        return str(tmp_path / "place")
    return request.getfixturevalue("gcs_bucket") + "/place"


def test_a_root_is_writable_where_nothing_is_in_the_way(place):
    root = DatasetRoot.open(place)
    root.check_writable()
    assert root.list_files() == []  # the probe is gone
    check_output_file(place + "/exports/gifs.parquet")


def test_a_root_that_is_or_lies_under_a_file_is_not_writable(tmp_path):
    blocker = tmp_path / "gifs"
    blocker.write_text("a file")
    with pytest.raises(RootNotWritable, match=re.escape(f"{blocker}: a file, not a folder")):
        DatasetRoot.open(str(blocker)).check_writable()
    under = blocker / "run1" / "deeper"
    with pytest.raises(RootNotWritable, match=re.escape(f"{under}: cannot be a folder, {blocker} is a file")):
        DatasetRoot.open(str(under)).check_writable()
    export = under / "x.parquet"
    with pytest.raises(RootNotWritable, match=re.escape(f"{export}: cannot be written, {blocker} is a file")):
        check_output_file(str(export))
    with pytest.raises(RootNotWritable, match=re.escape(f"{tmp_path}: a folder, not a file")):
        check_output_file(str(tmp_path))
    assert blocker.read_text() == "a file"


def test_a_root_exists_once_something_is_stored_there(place):
    root = DatasetRoot.open(place)
    with pytest.raises(FileNotFoundError, match="no such dataset"):
        root.check_exists()
    root.write_bytes(b"{}", "tables", "gifs", "x.json")
    root.check_exists()


def test_a_dataset_root_that_is_a_file_does_not_exist_as_a_dataset(tmp_path):
    (tmp_path / "data").write_text("a file")
    with pytest.raises(FileNotFoundError, match="a file, not a dataset folder"):
        DatasetRoot.open(str(tmp_path / "data")).check_exists()


def test_a_folder_put_into_a_root_replaces_the_earlier_copy(place, tmp_path):
    root = DatasetRoot.open(place)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, names in ((first, ["gif-1.gif", "gif-2.gif", "predictions.json"]),
                          (second, ["gif-1.gif", "predictions.json"])):
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(f"{folder.name}/{name}".encode())
    (first / "subfolder").mkdir()  # not copied: the copy is of the folder's files
    assert root.put_folder(str(first), "clip-0123456789ab") == root.uri_of("clip-0123456789ab")
    assert root.put_folder(str(second), "clip-0123456789ab") == root.uri_of("clip-0123456789ab")
    stored = root.list_files("clip-0123456789ab")
    assert [p.rsplit("/", 1)[1] for p in stored] == ["gif-1.gif", "predictions.json"]  # gif-2.gif is gone
    with root.fs.open_input_stream(stored[0]) as f:
        assert f.read() == b"second/gif-1.gif"
