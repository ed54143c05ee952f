"""The layout's rules, read from the source (lazy imports included): what each package may import."""
import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("featurizer", "pipelines", "demo_world", "trainer", "evaluation")


def imports_of(path: pathlib.Path) -> set[str]:
    """Every module a file imports, at the top or inside functions; relative imports resolved."""
    modules = set()
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            modules.add(base)
            modules.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return modules


def sources(*folders: str):
    for folder in folders:
        path = REPO / folder
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def offenders(folders, forbidden, allowed=()):
    found = []
    for path in sources(*folders):
        for module in imports_of(path):
            if module.startswith(forbidden) and not module.startswith(tuple(allowed)):
                found.append(f"{path.relative_to(REPO)}: {module}")
    return sorted(set(found))


def top(name):
    return (name, name + ".")


def test_the_import_reader_sees_lazy_imports():
    # The pipelines import Beam at the top; the commands import the media stack inside main().
    assert offenders(["pipelines/align.py"], top("apache_beam"))
    assert "featurizer.align.video_index" in imports_of(REPO / "pipelines/commands/align_video.py")


@pytest.mark.parametrize("folder", ["featurizer", "trainer", "evaluation", "demo_world", "pipelines/scraping"])
def test_libraries_never_import_beam(folder):
    assert offenders([folder], top("apache_beam")) == []


def test_featurizer_imports_neither_pipelines_nor_the_demo_world():
    assert offenders(["featurizer"], top("pipelines") + top("demo_world")) == []


def test_the_dataset_layer_and_media_stand_alone():
    assert offenders(["featurizer/dataset"], ("featurizer.",), allowed=("featurizer.dataset",)) == []
    assert offenders(["featurizer/media"], ("featurizer.",), allowed=("featurizer.media",)) == []


def test_the_scraping_logic_needs_no_other_part_of_pipelines():
    assert offenders(["pipelines/scraping"], ("pipelines.",), allowed=("pipelines.scraping",)) == []


def test_only_c3d_and_the_trainer_use_tensorflow():
    folders = ["featurizer/media", "featurizer/align", "featurizer/shots", "featurizer/labels", "featurizer/dataset",
               "pipelines/scraping", "demo_world"]
    assert offenders(folders, top("tensorflow") + top("keras")) == []


def test_only_table_store_knows_the_table_format():
    files = {line.split(":")[0] for line in offenders(PACKAGES, top("deltalake"))}
    assert files == {"featurizer/dataset/table_store.py"}


@pytest.mark.parametrize("module", ["pipelines.scrape", "pipelines.align", "pipelines.featurize"])
def test_every_pipeline_is_a_declared_stage(module):
    import importlib

    from pipelines.stage import Stage

    pipeline = importlib.import_module(module)
    assert isinstance(pipeline.STAGE, Stage)
    assert pipeline.run == pipeline.STAGE.run
    assert pipeline.STAGE.arg_parser().prog == pipeline.STAGE.command


def test_tests_follow_the_layout():
    test_folders = [p for p in (REPO / "tests").rglob("*") if p.is_dir() and p.name != "__pycache__"
                    and any(p.glob("test_*.py"))]
    strays = [str(p.relative_to(REPO)) for p in test_folders
              if p != REPO / "tests" and not (REPO / p.relative_to(REPO / "tests")).is_dir()]
    assert strays == []
    assert sorted(p.name for p in (REPO / "tests").glob("test_*.py")) == ["test_layout.py"]
