"""trainflow verify's comparisons (the real rerun in a fresh clone: tests/pipeline)."""

from __future__ import annotations

from trainflow.verify import (
    compare_metrics,
    compare_outputs,
    environment_drift,
    record_files,
    render,
)


def lock(outs: dict[str, str]) -> dict:
    return {"stages": {"s": {"outs": [{"path": p, "md5": m} for p, m in outs.items()]}}}


def test_outputs_are_identical_different_missing_or_tolerated():
    rows = compare_outputs(
        lock({"models/families/mlp": "aa", "metrics/speed/train_mlp.json": "11",
              "reports/eval": "cc", "reports/leaderboard.md": "ee"}),
        lock({"models/families/mlp": "aa", "metrics/speed/train_mlp.json": "22",
              "data/new": "dd", "reports/leaderboard.md": "ff"}),
    )  # fmt: skip
    status = {r.path: r.status for r in rows}
    assert status == {"models/families/mlp": "identical",
                      "metrics/speed/train_mlp.json": "tolerated", "reports/eval": "missing",
                      "reports/leaderboard.md": "tolerated", "data/new": "missing"}  # fmt: skip
    table = render(rows, [])
    assert "1 of 3 outputs identical" in table and "timings" in table


def test_rows_follow_the_pipeline_not_the_lock_order():
    stages = {
        name: {"outs": [{"path": f"out/{name}", "md5": "aa"}]}
        for name in ("evaluate", "ingest", "train@mlp", "select", "train@gbdt", "split")
    }
    rows = compare_outputs({"stages": stages}, {"stages": stages})  # fmt: skip
    assert [r.stage for r in rows] == ["ingest", "split", "train@mlp", "train@gbdt", "select",
                                       "evaluate"]  # fmt: skip


def test_record_files_are_the_json_files_under_metrics():
    tracked = "metrics/eval.json\nmetrics/train/mlp/metrics.json\nmetrics/train/mlp/plots/" \
              "metrics/val/loss.tsv\nreports/leaderboard.md\nparams.yaml\n"  # fmt: skip
    assert record_files(tracked) == ["metrics/eval.json", "metrics/train/mlp/metrics.json"]


def test_metric_values_compared_exactly_except_timings():
    before = {"metrics/eval.json": {"model": {"accuracy": 0.85, "auroc": 0.9}},
              "metrics/speed/evaluate.json": {"speed": {"p50": 1.0}}}  # fmt: skip
    after = {"metrics/eval.json": {"model": {"accuracy": 0.85, "auroc": 0.9000001}},
             "metrics/speed/evaluate.json": {"speed": {"p50": 2.0}}}  # fmt: skip
    assert compare_metrics(before, after) == ["metrics/eval.json: model.auroc 0.9 -> 0.9000001"]


def test_environment_drift_names_the_package():
    assert environment_drift("# comment\ntorch==2.13.0\npytest==8.0.0.0.1\n") == [
        f"pytest: locked 8.0.0.0.1, installed {__import__('pytest').__version__}"
    ]
    assert environment_drift("no-such-package-xyz==1.0\n") == [
        "no-such-package-xyz: locked 1.0, not installed"
    ]


def test_a_stamped_bundle_is_reproduced_when_its_content_hash_is():
    from trainflow.verify import changed_inputs, settle_stamped

    recorded = lock({"models/bundle": "b1", "models/train": "aa"})
    rebuilt = lock({"models/bundle": "b2", "models/train": "aa"})
    same = {"metrics/bundle.json": {"bundle": {"content_sha256": "c1"}}}
    other = {"metrics/bundle.json": {"bundle": {"content_sha256": "c2"}}}
    rows = compare_outputs(recorded, rebuilt)
    assert {r.path: r.status for r in settle_stamped(rows, same, same)}["models/bundle"] == (
        "identical*"
    )
    assert {r.path: r.status for r in settle_stamped(rows, same, other)}["models/bundle"] == (
        "DIFFERENT"
    )
    assert {r.path: r.status for r in settle_stamped(rows, same, {})}["models/bundle"] == (
        "DIFFERENT"
    )
    table = render(settle_stamped(rows, same, same), [])
    assert "2 of 2 outputs identical" in table and "lineage" in table

    # a later stage reading the exempt timings is not a changed input; any other dep is
    def deps(speed: str, train: str) -> dict:
        paths = {"metrics/speed/evaluate.json": speed, "models/train": train}
        return {"stages": {"package": {"deps": [{"path": p, "md5": m} for p, m in paths.items()]}}}

    assert changed_inputs(deps("s1", "a"), deps("s2", "a")) == []
    assert changed_inputs(deps("s1", "a"), deps("s1", "b")) == [
        ("package", "models/train", "a", "b")
    ]


def test_stages_run_with_mkl_reproducibility_on_unless_the_user_chose(tmp_path):
    """Every stage imports trainflow before torch: MKL's reproducible mode is on in each."""
    import os
    import subprocess
    import sys

    code = ("import trainflow.stages.train, os; "
            "print(os.environ['MKL_CBWR'], os.environ['MKL_DYNAMIC'])")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "MKL_DYNAMIC")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["AUTO", "FALSE"], done.stderr
    done = subprocess.run([sys.executable, "-c", code], env=env | {"MKL_CBWR": "AVX2"},
                          capture_output=True, text=True)  # fmt: skip
    assert done.stdout.split() == ["AVX2", "FALSE"], done.stderr


def test_a_rerun_on_another_cpu_count_is_named():
    from trainflow.verify import cpu_count_note

    two = {"metrics/speed/train_mlp.json": {"family": "mlp", "fit_seconds": 7.1, "cpus": 2},
           "metrics/eval.json": {"accuracy": 0.87}}  # fmt: skip
    four = {**two, "metrics/speed/train_mlp.json": {"family": "mlp", "fit_seconds": 4.0,
                                                    "cpus": 4}}  # fmt: skip
    assert cpu_count_note(two, two) is None
    note = cpu_count_note(two, four)
    assert note is not None and note.startswith("note: recorded with 2 CPUs, rerun with 4")
    old = {"metrics/speed/train_mlp.json": {"family": "mlp", "fit_seconds": 7.1}}
    assert cpu_count_note(old, four) is None  # a record from before the count was kept


def test_lock_entries_of_stages_no_longer_in_the_pipeline_are_left_out():
    """A family taken out of params.yaml leaves its train@ entry in dvc.lock; no rerun makes it,
    so it is named in a note, not counted as reproduced."""
    from trainflow.verify import current_stages

    lock = {"schema": "2.0", "stages": {"split": {}, "train@mlp": {}, "train@gbdt": {}}}
    kept, stale = current_stages(lock, {"split", "train@mlp", "select"})
    assert kept == {"schema": "2.0", "stages": {"split": {}, "train@mlp": {}}}
    assert stale == ["train@gbdt"]
