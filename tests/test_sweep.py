"""trainflow sweep's logic with the dvc calls swapped for a fake (the real run: pipeline tests)."""

from __future__ import annotations

import math

import pytest
import yaml

from trainflow.errors import StageError
from trainflow.params import SweepParams, parse_params
from trainflow.sweep import (
    Runner,
    apply_best,
    objective_value,
    parse_duration,
    run_sweep,
    set_args,
    summary,
)

SPACE = {
    "gbdt": {
        "families.gbdt.learning_rate": {"low": 0.01, "high": 0.3, "log": True},
        "families.gbdt.num_leaves": {"low": 7, "high": 63},
    },
    "mlp": {
        "families.mlp.lr": {"low": 0.0001, "high": 0.1, "log": True},
        "families.mlp.batch_size": {"choices": [256, 512]},
    },
}
BASELINE = {"families": {"gbdt": {"learning_rate": 0.03, "num_leaves": 15},
                         "mlp": {"lr": 0.001, "batch_size": 256}}}  # fmt: skip


def sweep_params(**over) -> SweepParams:
    raw = {"study": "t", "trials": 6, "startup_trials": 3, "objective": "val_log_loss",
           "direction": "minimize", "targets": ["select"], "space": SPACE} | over  # fmt: skip
    return SweepParams.model_validate(raw)


class FakeDvc:
    """Runs 'experiments' by scoring their -S values; can be told to die at a trial. Time
    moves 60 s per trial."""

    def __init__(self, die_at: int | None = None, fail: bool = False) -> None:
        self.rows: list[dict] = [{"Experiment": None, "val_log_loss": 0.5}]
        self.runs: list[tuple[str, dict]] = []
        self.die_at, self.fail = die_at, fail
        self.now = 0.0

    def run(self, name: str, sets: list[str], targets: list[str]) -> int:
        assert targets == ["select"] and sets[0::2] == ["-S"] * (len(sets) // 2)
        values = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in sets[1::2])}
        self.runs.append((name, values))
        self.now += 60
        if len(self.runs) == self.die_at:
            raise KeyboardInterrupt
        if self.fail:
            return 1
        (family,) = values["select.candidates"]
        if family == "gbdt":
            score = 0.25 + (math.log10(values["families.gbdt.learning_rate"]) + 1.5) ** 2 / 10
        else:
            score = 0.27 + (math.log10(values["families.mlp.lr"]) + 2.5) ** 2 / 10
        self.rows.append({"Experiment": name, "val_log_loss": score})
        return 0

    def runner(self) -> Runner:
        return Runner(self.run, lambda: list(self.rows), clock=lambda: self.now)


def test_each_trial_picks_a_family_then_its_own_values(tmp_path):
    fake = FakeDvc()
    study = run_sweep(sweep_params(), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    assert [name for name, _ in fake.runs] == [f"t-{i}" for i in range(6)]
    families = set()
    for _, values in fake.runs:
        (family,) = values["select.candidates"]
        families.add(family)
        assert values["select.ensemble"] is False  # the family alone is the trial's champion
        other = "mlp" if family == "gbdt" else "gbdt"
        for key in SPACE[other]:  # the other family stays at the committed baseline
            assert values[key] == BASELINE["families"][other][key.split(".")[-1]]
        if family == "gbdt":
            assert isinstance(values["families.gbdt.num_leaves"], int)
            assert 0.01 <= values["families.gbdt.learning_rate"] <= 0.3
        else:
            assert values["families.mlp.batch_size"] in (256, 512)
    assert families == {"gbdt", "mlp"}
    assert len(study.trials) == 6
    assert study.best_value == min(r["val_log_loss"] for r in fake.rows[1:])
    table = summary(study, sweep_params())
    best = study.best_trial
    assert table.splitlines()[1].split()[1:3] == [best.user_attrs["experiment"],
                                                  best.params["family"]]  # fmt: skip
    assert "best per family: " in table and "trainflow sweep --apply" in table


def test_same_seed_same_trials(tmp_path):
    a, b = FakeDvc(), FakeDvc()
    run_sweep(sweep_params(), 7, a.runner(), tmp_path / "a.log", BASELINE)
    run_sweep(sweep_params(), 7, b.runner(), tmp_path / "b.log", BASELINE)
    assert a.runs == b.runs


def test_a_time_budget_stops_the_sweep_between_trials(tmp_path):
    fake = FakeDvc()
    study = run_sweep(sweep_params(trials=50), 0, fake.runner(), tmp_path / "s.log", BASELINE,
                      time_budget=parse_duration("3m"))  # fmt: skip
    assert len(fake.runs) == 3 and len(study.trials) == 3  # 60 s each: none starts at 180 s
    assert parse_duration("90s") == 90 and parse_duration("1.5h") == 5400
    with pytest.raises(StageError, match="time budget '10 minutes'"):
        parse_duration("10 minutes")


def test_an_interrupted_sweep_reruns_the_cut_trial_and_finishes(tmp_path):
    fake = FakeDvc(die_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep_params(), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    cut = fake.runs[-1][1]
    study = run_sweep(sweep_params(), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    assert fake.runs[3] == ("t-3", cut)  # the cut trial's values, as a new trial
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 6
    assert [t.state.name for t in study.trials].count("FAIL") == 1


def test_a_trial_whose_experiment_finished_is_recorded_not_rerun(tmp_path):
    fake = FakeDvc(die_at=2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep_params(trials=3), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    fake.rows.append({"Experiment": "t-1", "val_log_loss": 0.25})  # it had finished in DVC
    study = run_sweep(sweep_params(trials=3), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    assert [name for name, _ in fake.runs] == ["t-0", "t-1", "t-2"]
    assert study.trials[1].value == 0.25


def test_a_changed_space_needs_a_new_study(tmp_path):
    run_sweep(sweep_params(trials=1), 0, FakeDvc().runner(), tmp_path / "s.log", BASELINE)
    wider = {**SPACE, "mlp": {**SPACE["mlp"], "families.mlp.dropout": {"low": 0.0, "high": 0.5}}}
    with pytest.raises(StageError, match="another space, objective or direction"):
        run_sweep(sweep_params(trials=2, space=wider), 0, FakeDvc().runner(),
                  tmp_path / "s.log", BASELINE)  # fmt: skip
    with pytest.raises(StageError, match="another space, objective or direction"):
        run_sweep(sweep_params(trials=2, direction="maximize"), 0, FakeDvc().runner(),
                  tmp_path / "s.log", BASELINE)  # fmt: skip


def test_experiments_left_by_a_deleted_journal_stop_the_sweep_before_a_trial(tmp_path):
    fake = FakeDvc()
    run_sweep(sweep_params(trials=2), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    (tmp_path / "s.log").unlink()  # the experiments t-0, t-1 stay in DVC
    clash = r"experiments t-0 t-1 exist but .*dvc exp remove t-0 t-1"
    with pytest.raises(StageError, match=clash):
        run_sweep(sweep_params(trials=2), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    assert len(fake.runs) == 2
    fake.rows = [r for r in fake.rows if r["Experiment"] not in ("t-0", "t-1")]  # removed
    run_sweep(sweep_params(trials=2), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    # the study's own experiments are no clash: it resumes past them
    run_sweep(sweep_params(trials=3), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    assert [name for name, _ in fake.runs] == ["t-0", "t-1", "t-0", "t-1", "t-2"]


def test_failing_trials_stop_the_sweep(tmp_path):
    with pytest.raises(StageError, match="3 trials in a row failed; last: dvc exp run exited 1"):
        run_sweep(sweep_params(), 0, FakeDvc(fail=True).runner(), tmp_path / "s.log", BASELINE)


def test_apply_writes_each_familys_best_values_keeping_comments(tmp_path):
    fake = FakeDvc()
    study = run_sweep(sweep_params(trials=8), 0, fake.runner(), tmp_path / "s.log", BASELINE)
    params = tmp_path / "params.yaml"
    params.write_text("families:  # the candidates\n  gbdt:\n    learning_rate: 0.03  # rate\n"
                      "    num_leaves: 15\n  mlp:\n    lr: 0.001\n"
                      "    batch_size: 256\n")  # fmt: skip
    chosen = apply_best(study, sweep_params(trials=8), params)
    written = yaml.safe_load(params.read_text())["families"]
    best = {t.params["family"]: t for t in sorted(study.trials, key=lambda t: -t.value)}
    assert written["gbdt"]["learning_rate"] == best["gbdt"].params["families.gbdt.learning_rate"]
    assert written["mlp"]["batch_size"] in (256, 512)
    assert chosen["families.mlp.batch_size"] == written["mlp"]["batch_size"]
    assert "# the candidates" in params.read_text() and "# rate" in params.read_text()


def test_set_args_are_yaml_values():
    assert set_args({"select.candidates": ["gbdt"], "families.mlp.lr": 0.001}) == [
        "-S", 'select.candidates=["gbdt"]', "-S", "families.mlp.lr=0.001",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"gbdt": {"families.gbdt.nope": {"low": 0, "high": 1}}},
         "sweep.space: families.gbdt.nope is not a params.yaml key"),
        ({"gbdt": {"families.gbdt.learning_rate": {"low": 0.1, "high": 0.01}}},
         "high must be greater than low"),
        ({"mlp": {"families.mlp.lr": {"low": 0.0, "high": 0.1, "log": True}}},
         "log needs low > 0"),
        ({"svm": {"families.mlp.lr": {"low": 0.1, "high": 0.2}}},
         "sweep.space.svm: not a family under families"),
        ({"gbdt": {"families.mlp.lr": {"low": 0.001, "high": 0.2}}},
         "sweep.space.gbdt: families.mlp.lr is not one of gbdt's settings"),
    ],
)  # fmt: skip
def test_bad_sweep_space_names_the_key(params, space, message):
    raw = params.model_dump(by_alias=True, mode="json")
    raw["sweep"] = {**raw["sweep"], "space": space}
    with pytest.raises(StageError, match=message):
        parse_params(raw)


def test_sweep_targets_must_be_stages(params):
    raw = params.model_dump(by_alias=True, mode="json")
    raw["sweep"] = {**raw["sweep"], "targets": ["trian"]}
    with pytest.raises(StageError, match=r"sweep.targets: unknown stages \['trian'\]"):
        parse_params(raw)


def test_objective_must_be_a_metric_of_the_experiment():
    rows = [{"Experiment": "t-0", "val.loss": 0.3, "train.lr": 0.1}]
    assert objective_value(rows, "t-0", "val.loss") == 0.3
    assert objective_value(rows, "t-9", "val.loss") is None
    with pytest.raises(StageError, match=r"'val.best' is not a metric.*val.loss"):
        objective_value(rows, "t-0", "val.best")
    assert objective_value([{"Experiment": "t-0", "v": float("nan")}], "t-0", "v") is None
    killed = {"Experiment": "t-0", "State": "Running", "val.loss": 0.3}  # the workspace's values
    assert objective_value([killed], "t-0", "val.loss") is None
