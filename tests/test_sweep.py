"""trainflow sweep's logic with the dvc calls swapped for a fake (the real run: pipeline tests)."""

from __future__ import annotations

import math

import pytest
import yaml

from trainflow.errors import StageError
from trainflow.params import SweepParams, parse_params
from trainflow.sweep import Runner, objective_value, run_sweep, set_args, summary

SPACE = {
    "train.lr": {"low": 0.0001, "high": 0.1, "log": True},
    "train.max_epochs": {"low": 2, "high": 9},
    "train.hidden": {"choices": [[64], [128, 64]]},
}


def sweep_params(**over) -> SweepParams:
    raw = {"study": "t", "trials": 6, "startup_trials": 3, "objective": "val.best_loss",
           "direction": "minimize", "targets": ["train"], "space": SPACE} | over  # fmt: skip
    return SweepParams.model_validate(raw)


class FakeDvc:
    """Runs 'experiments' by scoring their -S values; can be told to die at a trial."""

    def __init__(self, die_at: int | None = None, fail: bool = False) -> None:
        self.rows: list[dict] = [{"Experiment": None, "val.best_loss": 0.5}]
        self.runs: list[tuple[str, dict]] = []
        self.die_at, self.fail = die_at, fail

    def run(self, name: str, sets: list[str], targets: list[str]) -> int:
        assert targets == ["train"] and sets[0::2] == ["-S"] * len(SPACE)
        values = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in sets[1::2])}
        self.runs.append((name, values))
        if len(self.runs) == self.die_at:
            raise KeyboardInterrupt
        if self.fail:
            return 1
        score = (math.log10(values["train.lr"]) + 2.5) ** 2 + len(values["train.hidden"])
        self.rows.append({"Experiment": name, "val.best_loss": score})
        return 0

    def runner(self) -> Runner:
        return Runner(self.run, lambda: list(self.rows))


def test_trials_are_named_experiments_with_typed_values(tmp_path):
    fake = FakeDvc()
    study = run_sweep(sweep_params(), 0, fake.runner(), tmp_path / "s.log")
    assert [name for name, _ in fake.runs] == [f"t-{i}" for i in range(6)]
    for _, values in fake.runs:
        assert isinstance(values["train.max_epochs"], int) and 2 <= values["train.max_epochs"] <= 9
        assert isinstance(values["train.lr"], float) and 1e-4 <= values["train.lr"] <= 0.1
        assert values["train.hidden"] in ([64], [128, 64])
    assert len(study.trials) == 6 and study.best_value == min(r["val.best_loss"]
                                                              for r in fake.rows[1:])  # fmt: skip
    table = summary(study, sweep_params())
    assert table.splitlines()[1].split()[1] == study.best_trial.user_attrs["experiment"]
    assert f"dvc exp apply {study.best_trial.user_attrs['experiment']}" in table


def test_same_seed_same_trials(tmp_path):
    a, b = FakeDvc(), FakeDvc()
    run_sweep(sweep_params(), 7, a.runner(), tmp_path / "a.log")
    run_sweep(sweep_params(), 7, b.runner(), tmp_path / "b.log")
    assert a.runs == b.runs


def test_an_interrupted_sweep_reruns_the_cut_trial_and_finishes(tmp_path):
    fake = FakeDvc(die_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep_params(), 0, fake.runner(), tmp_path / "s.log")
    cut = fake.runs[-1][1]
    study = run_sweep(sweep_params(), 0, fake.runner(), tmp_path / "s.log")
    assert fake.runs[3] == ("t-3", cut)  # the cut trial's values, as a new trial
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 6
    assert [t.state.name for t in study.trials].count("FAIL") == 1


def test_a_trial_whose_experiment_finished_is_recorded_not_rerun(tmp_path):
    fake = FakeDvc(die_at=2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep_params(trials=3), 0, fake.runner(), tmp_path / "s.log")
    fake.rows.append({"Experiment": "t-1", "val.best_loss": 0.25})  # it had finished in DVC
    study = run_sweep(sweep_params(trials=3), 0, fake.runner(), tmp_path / "s.log")
    assert [name for name, _ in fake.runs] == ["t-0", "t-1", "t-2"]
    assert study.trials[1].value == 0.25


def test_a_changed_space_needs_a_new_study(tmp_path):
    run_sweep(sweep_params(trials=1), 0, FakeDvc().runner(), tmp_path / "s.log")
    other = sweep_params(trials=2, space={**SPACE, "train.dropout": {"low": 0.0, "high": 0.5}})
    with pytest.raises(StageError, match="another space, objective or direction"):
        run_sweep(other, 0, FakeDvc().runner(), tmp_path / "s.log")
    flipped = sweep_params(trials=2, direction="maximize")
    with pytest.raises(StageError, match="another space, objective or direction"):
        run_sweep(flipped, 0, FakeDvc().runner(), tmp_path / "s.log")


def test_failing_trials_stop_the_sweep(tmp_path):
    with pytest.raises(StageError, match="3 trials in a row failed; last: dvc exp run exited 1"):
        run_sweep(sweep_params(), 0, FakeDvc(fail=True).runner(), tmp_path / "s.log")


def test_objective_must_be_a_metric_of_the_experiment():
    rows = [{"Experiment": "t-0", "val.loss": 0.3, "train.lr": 0.1}]
    assert objective_value(rows, "t-0", "val.loss") == 0.3
    assert objective_value(rows, "t-9", "val.loss") is None
    with pytest.raises(StageError, match=r"'val.best' is not a metric.*val.loss"):
        objective_value(rows, "t-0", "val.best")
    assert objective_value([{"Experiment": "t-0", "v": float("nan")}], "t-0", "v") is None


def test_set_args_are_yaml_values():
    assert set_args({"train.hidden": [128, 64], "train.lr": 0.001}) == [
        "-S", "train.hidden=[128, 64]", "-S", "train.lr=0.001",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"train.nope": {"low": 0, "high": 1}}, "sweep.space: train.nope is not a params.yaml"),
        ({"families.mlp.lr": {"low": 0.1, "high": 0.01}}, "high must be greater than low"),
        ({"families.mlp.lr": {"low": 0.0, "high": 0.1, "log": True}}, "log needs low > 0"),
    ],
)
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
