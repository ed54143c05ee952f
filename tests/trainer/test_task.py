"""`python -m trainer.task`, as Vertex AI runs it: the trainer alone (nothing of evaluation or pipelines
loaded), logging our lines in gifrank's format."""
import re
import subprocess
import sys

from trainer.synthetic import SyntheticSegments

RUN_AS_VERTEX = """
import runpy, sys
try:
    runpy.run_module("trainer.task", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    assert exit.code == 0, exit.code
print(sorted({name.split(".")[0] for name in sys.modules} & {"pipelines", "evaluation", "apache_beam"}))
"""


def test_the_vertex_entry_point_trains_with_the_trainer_alone(tmp_path):
    segments = tmp_path / "segments.parquet"
    SyntheticSegments(videos=6, segments_per_video=(6, 8), seed=2).write(str(segments))
    argv = ["--segments", str(segments), "--job-dir", str(tmp_path / "job"), "--epochs", "1", "--progress", "log",
            "--hidden-units", "8,4", "--batch-pairs", "10"]
    result = subprocess.run([sys.executable, "-c", RUN_AS_VERTEX, *argv], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "[]"
    assert (tmp_path / "job" / "done.json").exists()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO train: exported ", result.stderr, re.M), result.stderr
