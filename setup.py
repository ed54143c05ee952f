"""gifrank: learn which moments of a video make good GIFs (Video2GIF on Beam + TensorFlow).

setup.py is also how Dataflow workers get the code (--setup_file ./setup.py).
"""
import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent


def _requirements(name):
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-r"))]


setup(
    name="gifrank",
    version="0.1.0",
    description="Learn which moments of a video make good animated GIFs (Video2GIF on Beam + TensorFlow)",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["pipelines*", "featurizer*", "trainer*", "evaluation*", "demo_world*"]),
    package_data={"pipelines": ["scraping/sites/*.yaml"]},
    install_requires=_requirements("requirements.txt"),
    entry_points={"console_scripts": ["gifrank=pipelines.cli:main"]},
)
