"""The cost model's arithmetic against figures worked out by hand, and its storage measured on a real table."""
import argparse

import numpy as np
import pytest

from bench import cost_model
from featurizer.dataset import table_store, tables
from featurizer.dataset.storage import DatasetRoot


def prices(**overrides):
    args = cost_model.parse_args([])
    return argparse.Namespace(**{**vars(args), "video_fps": 25.0, **overrides})


STORAGE = {"table_bytes_per_hour": {"features": 20e6, "labels": 5e6}}
CPU_C3D = {"gflop_per_clip": 77.0, "one_step_clips_per_sec": 2.0, "cpu_count": 2}


def test_one_video_hour_by_hand():
    result = cost_model.cost(prices(), {"cpu_sec_per_frame": 0.001}, CPU_C3D, 900.0, STORAGE)
    per = result["per_video_hour"]
    vcpu_hour = 0.056 + 3.75 * 0.003557
    assert result["vcpu_hour_usd"] == pytest.approx(vcpu_hour)
    assert per["frames"] == 90_000 and per["clips"] == 22_500  # 2 x 90,000 / 8
    assert per["c3d_pflop"] == pytest.approx(1.7325)
    assert per["decode_vcpu_hours"] == pytest.approx(90 / 3600)
    assert per["decode_usd"] == pytest.approx(90 / 3600 * vcpu_hour)
    # 22,500 clips at 2 clips/s on 2 vCPUs: 22,500 vCPU-seconds
    assert per["cpu_only_c3d_vcpu_hours"] == pytest.approx(22_500 / 3600)
    assert per["gpu_c3d_hours"] == pytest.approx(25 / 3600)
    assert per["gpu_c3d_usd"] == pytest.approx(25 / 3600 * 11.06)
    assert per["gpu_path_usd"] == pytest.approx(per["decode_usd"] + per["gpu_c3d_usd"])
    # 1 Mbit/s for an hour, 120,000 / 7,379 GIFs of 2 MB, 25 MB of tables
    assert per["storage_gb"] == pytest.approx({"videos": 0.45, "gifs": 120_000 / 7379 * 0.002, "tables": 0.025})
    assert per["storage_usd_per_month"] == pytest.approx((0.45 + 120_000 / 7379 * 0.002 + 0.025) * 0.02)
    total = result["total"]
    assert total["gpu_c3d_hours"] == pytest.approx(7379 * 25 / 3600)
    assert total["storage_gb"] == pytest.approx(7379 * (0.45 + 120_000 / 7379 * 0.002 + 0.025))
    assert "| C3D on GPU | 25 GPU-s |" in cost_model.markdown({**result, "gpu_name": "GPU"})


def test_without_a_gpu_figure_the_gpu_rows_are_left_out():
    result = cost_model.cost(prices(), {"cpu_sec_per_frame": 0.001}, CPU_C3D, None, STORAGE)
    assert "gpu_c3d_hours" not in result["per_video_hour"] and "gpu_path_usd" not in result["total"]
    assert "GPU" not in cost_model.markdown({**result, "gpu_name": "GPU"})


def test_storage_per_hour_is_measured_from_the_features_table(tmp_path):
    root = DatasetRoot.open(str(tmp_path))
    rows = []
    for video, (frames, fps, segments) in {"a" * 64: (900, 25.0, 3), "b" * 64: (1800, 30.0, 2)}.items():
        for index in range(segments):
            rows.append({"video_sha256": video, "segmenter": "s", "feature_extractor": "f", "segment_index": index,
                         "start_frame": 0, "end_frame": 16, "start_sec": 0.0, "end_sec": 0.64, "fps": fps,
                         "video_num_frames": frames, "snippets": 1,
                         "features": np.zeros(tables.C3D_FEATURES, np.float32).tolist()})
    table = tables.rows_to_arrow(tables.FEATURES, rows)
    added = table_store.write_file(root.uri, tables.FEATURES, table, "part")
    table_store.commit(root, tables.FEATURES, None, [added], [], "txn")
    storage = cost_model.storage_per_hour(root.uri)
    hours = (900 / 25 + 1800 / 30) / 3600  # 36 s and 60 s
    assert storage["videos"] == 2 and storage["video_hours"] == pytest.approx(hours)
    assert storage["segments_per_hour"] == pytest.approx(5 / hours)
    assert storage["table_bytes_per_hour"] == {"features": pytest.approx(added.size / hours)}


def test_a_dataset_without_features_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="no featurized video"):
        cost_model.storage_per_hour(str(tmp_path))
