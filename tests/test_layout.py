"""The layout's rules, read from the source (lazy imports included): what each package may import.

Imports run one way, featurizer <- trainer <- evaluation <- pipelines: a package imports only
those to its left (the demo world is a fixture of the pipelines' demo, importing none of ours),
and no files import each other round a circle, however lazily.
"""
import ast
import pathlib
import sys

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
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
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


# Each package and the packages it may import: only those below it.
MAY_IMPORT = {
    "featurizer": (),
    "trainer": ("featurizer",),
    "evaluation": ("featurizer", "trainer"),
    "pipelines": ("featurizer", "trainer", "evaluation", "demo_world"),
    "demo_world": (),
}


def module_file(module: str) -> pathlib.Path | None:
    """The file of one of our modules (a package's __init__.py), None for anything else."""
    path = REPO.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file() and candidate.relative_to(REPO).parts[0] in PACKAGES:
            return candidate
    return None


def file_graph() -> dict[pathlib.Path, set[pathlib.Path]]:
    """Each source file -> the files it imports (`from pkg import module` resolved to the module)."""
    graph = {}
    for path in sources(*PACKAGES):
        targets = {module_file(m) for m in imports_of(path)}
        graph[path] = {t for t in targets if t is not None and t != path}
    return graph


def circles(graph: dict) -> list[list]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_imports_run_only_downward(package):
    others = tuple(p for p in PACKAGES if p != package and p not in MAY_IMPORT[package])
    assert offenders([package], tuple(t for p in others for t in top(p))) == []


def test_no_files_import_each_other_in_a_circle():
    found = [[str(p.relative_to(REPO)) for p in circle] for circle in circles(file_graph())]
    assert found == []


def test_the_circle_finder_finds_circles():
    a, b, c, d = (REPO / name for name in "abcd")
    assert circles({a: {b}, b: {c}, c: {a}, d: {a}}) == [sorted([a, b, c])]
    assert circles({a: {b}, b: set()}) == []
    # the reader resolves `from package import module` to the module's file
    assert module_file("featurizer.dataset.table_store") == REPO / "featurizer/dataset/table_store.py"
    assert module_file("featurizer.dataset") == REPO / "featurizer/dataset/__init__.py"
    assert module_file("numpy") is None


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


def test_only_the_video_reader_decodes_videos():
    """Every path that decodes a video (align, shots, C3D, predict, GIF writing) goes through
    featurizer/media/video.py (display_matrix.py reads its frames' matrices), so every one
    shows frames as players do."""
    files = {line.split(":")[0] for line in offenders(PACKAGES, top("av"))}
    assert files == {"featurizer/media/video.py", "featurizer/media/display_matrix.py"}


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
