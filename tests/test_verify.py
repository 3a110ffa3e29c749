"""trainflow verify's comparisons (the real rerun in a fresh clone: tests/pipeline)."""

from __future__ import annotations

import re

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
        lock({"models/families/mlp": "aa", "models/families/gbdt": "g1",
              "metrics/speed/train_mlp.json": "11", "reports/eval": "cc",
              "reports/leaderboard.md": "ee"}),
        lock({"models/families/mlp": "aa", "models/families/gbdt": "g2",
              "metrics/speed/train_mlp.json": "22", "data/new": "dd",
              "reports/leaderboard.md": "ff"}),
    )  # fmt: skip
    status = {r.path: r.status for r in rows}
    assert status == {"models/families/mlp": "identical", "models/families/gbdt": "DIFFERENT",
                      "metrics/speed/train_mlp.json": "tolerated", "reports/eval": "missing",
                      "reports/leaderboard.md": "tolerated", "data/new": "missing"}  # fmt: skip
    table = render(rows, [])
    assert "1 of 4 outputs identical" in table and "timings" in table
    assert re.search(r"\ns +models/families/gbdt +g1 +g2 +DIFFERENT\n", table), table


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


def machine(model: str, isa: list[str], threads: str = "2") -> dict:
    settings = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE",
                "OMP_NUM_THREADS": threads}  # fmt: skip
    return {"cpu": {"model": model, "vendor": "AuthenticAMD", "machine": "x86_64", "isa": isa,
                    "cores": 2}, "settings": settings, "torch_capability": "AVX2"}  # fmt: skip


def test_verify_names_both_machines_and_warns_only_where_the_settings_differ():
    from trainflow.verify import machines_note

    amd = {"metrics/speed/train_mlp.json": {"fit_seconds": 7.1,
                                            "machine": machine("AMD EPYC", ["avx2", "avx512f"])},
           "metrics/eval.json": {"accuracy": 0.87}}  # fmt: skip
    intel = {**amd, "metrics/speed/train_mlp.json": {
        "fit_seconds": 9.0, "machine": machine("Intel Xeon", ["avx2"])}}  # fmt: skip
    note = machines_note(amd, intel)
    assert note.splitlines() == [
        "recorded on: AMD EPYC (AuthenticAMD; avx2 avx512f), torch AVX2 kernels, 2 threads",
        "rerun on   : Intel Xeon (AuthenticAMD; avx2), torch AVX2 kernels, 2 threads",
    ]  # the same settings on two CPUs: nothing to warn about
    four = {**amd, "metrics/speed/train_mlp.json": {
        "fit_seconds": 4.0, "machine": machine("AMD EPYC", ["avx2"], threads="4")}}  # fmt: skip
    assert "other numerics settings" in machines_note(amd, four).splitlines()[-1]
    old = {"metrics/speed/train_mlp.json": {"family": "mlp", "fit_seconds": 7.1, "cpus": 2}}
    lines = machines_note(old, amd).splitlines()  # a record from before the settings were kept
    assert lines[0].startswith("recorded on: not recorded") and "other numerics" in lines[-1]


def test_lock_entries_of_stages_no_longer_in_the_pipeline_are_left_out():
    """A family taken out of params.yaml leaves its train@ entry in dvc.lock; no rerun makes it,
    so it is named in a note, not counted as reproduced."""
    from trainflow.verify import current_stages

    lock = {"schema": "2.0", "stages": {"split": {}, "train@mlp": {}, "train@gbdt": {}}}
    kept, stale = current_stages(lock, {"split", "train@mlp", "select"})
    assert kept == {"schema": "2.0", "stages": {"split": {}, "train@mlp": {}}}
    assert stale == ["train@gbdt"]
