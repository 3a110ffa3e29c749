import json

import pytest

from trainflow.errors import StageError
from trainflow.io import atomic_dir, read_json, to_jsonable, write_json


def test_atomic_dir_keeps_previous_output_on_failure(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as d:
        (d / "a.txt").write_text("good")
    with pytest.raises(RuntimeError), atomic_dir(target) as d:
        (d / "a.txt").write_text("half")
        raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_dir_sweeps_stale_temp_folders(tmp_path):
    (tmp_path / ".out.abc123").mkdir()
    with atomic_dir(tmp_path / "out") as d:
        (d / "x").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_json_roundtrip_and_numpy(tmp_path):
    import numpy as np

    write_json(tmp_path / "m.json", {"a": np.float32(0.5), "b": [np.int64(3)]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 0.5, "b": [3]}
    assert to_jsonable((1, 2)) == [1, 2]


def test_read_json_errors(tmp_path):
    with pytest.raises(StageError, match="not found"):
        read_json(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(StageError, match="not valid JSON"):
        read_json(tmp_path / "bad.json")
