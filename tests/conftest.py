"""Shared fixtures: a tiny demo world (built once per session) and its site on loopback."""
import pytest

from pipelines.demo.replicate import replicate_world
from pipelines.demo.site import DemoSite
from pipelines.demo.world import WorldConfig, build_world


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"), WorldConfig.tiny())


@pytest.fixture(scope="session")
def wide_world(tiny_world, tmp_path_factory):
    """The tiny world's media under 14 GIF pages: room for one fault per GIF."""
    return replicate_world(tiny_world.root, tmp_path_factory.mktemp("wide"), 14)


@pytest.fixture
def demo_site(tiny_world):
    with DemoSite(tiny_world.root, page_size=4) as site:
        yield site
