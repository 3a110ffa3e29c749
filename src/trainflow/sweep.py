"""`trainflow sweep`: Bayesian hyper-parameter search (Optuna's TPE) driving DVC experiments.

Each trial is one `dvc exp run -n <study>-<number> -S key=value ...` in the workspace, so it
reuses DVC's caches (unchanged stages are skipped), and every trial is an ordinary experiment:
`dvc exp show` compares them and `dvc exp apply` takes one. Its result is read back from the
experiment's metrics (the `sweep.objective` column of `dvc exp show`). The study lives in an
Optuna journal file (.sweeps/<study>.log), so a sweep that was interrupted (Ctrl-C, kill, a
crash) resumes where it stopped: a trial whose experiment finished is recorded from it, one
that did not is run again with the same values.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainflow.errors import StageError
from trainflow.params import CategoricalSpace, RangeSpace, SweepParams

log = logging.getLogger("trainflow.sweep")

SWEEP_DIR = Path(".sweeps")
MAX_FAILURES_IN_A_ROW = 3


def journal_path(study: str) -> Path:
    return SWEEP_DIR / f"{study}.log"


def suggest(trial: Any, space: dict[str, RangeSpace | CategoricalSpace]) -> dict[str, Any]:
    """The trial's value for every key of the space, as params.yaml values."""
    values: dict[str, Any] = {}
    for key, dim in space.items():
        if isinstance(dim, CategoricalSpace):
            # Optuna's choices must be scalars: a list (say train.hidden) goes in as its JSON
            picked = trial.suggest_categorical(key, [json.dumps(c) for c in dim.choices])
            values[key] = json.loads(picked)
        elif dim.is_int:
            values[key] = trial.suggest_int(key, int(dim.low), int(dim.high), log=dim.log,
                                            step=int(dim.step or 1))  # fmt: skip
        else:
            values[key] = trial.suggest_float(key, dim.low, dim.high, log=dim.log, step=dim.step)
    return values


def set_args(values: dict[str, Any]) -> list[str]:
    """`-S key=value` arguments for `dvc exp run` (values as JSON, which DVC reads as YAML)."""
    args: list[str] = []
    for key, value in values.items():
        args += ["-S", f"{key}={json.dumps(value)}"]
    return args


def experiment_name(study: str, number: int) -> str:
    return f"{study}-{number}"


def objective_value(rows: Iterable[dict[str, Any]], experiment: str, column: str) -> float | None:
    """The objective column of `experiment` in `dvc.api.exp_show()` rows; None if the
    experiment is not there or has no finite value for it."""
    for row in rows:
        if row.get("Experiment") == experiment:
            if column not in row:
                known = sorted(k for k in row if isinstance(row[k], int | float))
                raise StageError(
                    f"sweep.objective: {column!r} is not a metric of experiment "
                    f"{experiment} (numeric columns: {', '.join(known[:40])} ...)"
                )
            value = row[column]
            if isinstance(value, int | float) and math.isfinite(value):
                return float(value)
            return None
    return None


@dataclass
class Runner:
    """How trials run and are read back; tests and dry runs swap these."""

    run_experiment: Callable[[str, list[str], list[str]], int]
    experiments: Callable[[], list[dict[str, Any]]]


def dvc_runner() -> Runner:
    def run_experiment(name: str, sets: list[str], targets: list[str]) -> int:
        cmd = ["dvc", "exp", "run", "-n", name, *sets, *targets]
        log.info("$ %s", " ".join(cmd))
        return subprocess.run(cmd).returncode  # its output (and any error) goes to the terminal

    def experiments() -> list[dict[str, Any]]:
        import dvc.api

        return dvc.api.exp_show()

    return Runner(run_experiment, experiments)


def open_study(sweep: SweepParams, seed: int, storage_path: Path) -> Any:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(storage_path)))
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=sweep.startup_trials)
    study = optuna.create_study(
        study_name=sweep.study, storage=storage, sampler=sampler,
        direction=sweep.direction, load_if_exists=True,
    )  # fmt: skip
    recorded = study.user_attrs.get("space")
    space = {k: v.model_dump(mode="json") for k, v in sweep.space.items()}
    if recorded is None:
        study.set_user_attr("space", space)
        study.set_user_attr("objective", sweep.objective)
    elif (recorded != space or study.user_attrs.get("objective") != sweep.objective
          or study.direction.name.lower() != sweep.direction):  # fmt: skip
        raise StageError(
            f"sweep.study {sweep.study!r} ran with another space, objective or direction; "
            f"name a new study (or delete {storage_path} to start it over)"
        )
    return study


def recover(study: Any, sweep: SweepParams, runner: Runner) -> None:
    """Settle the trials an interrupted sweep left running: record the ones whose experiment
    finished; fail the others and queue their values to run again."""
    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not stale:
        return
    rows = runner.experiments()
    for trial in stale:
        name = trial.user_attrs.get("experiment", experiment_name(sweep.study, trial.number))
        value = objective_value(rows, name, sweep.objective)
        if value is not None:
            study.tell(trial.number, value)
            log.info("trial %d: recovered %s = %.6g from experiment %s",
                     trial.number, sweep.objective, value, name)  # fmt: skip
        else:
            study.tell(trial.number, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, skip_if_exists=False)
            log.info("trial %d was interrupted: its values run again", trial.number)


def finished(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def run_sweep(sweep: SweepParams, seed: int, runner: Runner, storage_path: Path) -> Any:
    """Run trials until `sweep.trials` have completed (counting those of earlier runs)."""
    from optuna.trial import TrialState

    study = open_study(sweep, seed, storage_path)
    recover(study, sweep, runner)
    failures = 0
    while (done := finished(study)) < sweep.trials:
        trial = study.ask()
        name = experiment_name(sweep.study, trial.number)
        trial.set_user_attr("experiment", name)
        values = suggest(trial, sweep.space)
        log.info("trial %d (%d of %d): %s", trial.number, done + 1, sweep.trials,
                 ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items()))  # fmt: skip
        code = runner.run_experiment(name, set_args(values), list(sweep.targets))
        value = None
        if code == 0:
            value = objective_value(runner.experiments(), name, sweep.objective)
        if value is None:
            study.tell(trial, state=TrialState.FAIL)
            failures += 1
            reason = f"dvc exp run exited {code}" if code else f"no {sweep.objective} metric"
            log.warning("trial %d failed: %s", trial.number, reason)
            if failures >= MAX_FAILURES_IN_A_ROW:
                raise StageError(f"{failures} trials in a row failed; last: {reason}")
            continue
        failures = 0
        study.tell(trial, value)
        log.info("trial %d: %s = %.6g (experiment %s)", trial.number, sweep.objective, value, name)
    return study


def summary(study: Any, sweep: SweepParams) -> str:
    """A table of the completed trials, best first, and how to take the best one."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    reverse = sweep.direction == "maximize"
    done.sort(key=lambda t: t.value, reverse=reverse)
    keys = list(sweep.space)
    table = [["trial", "experiment", sweep.objective, *keys]]
    for t in done:
        shown = [f"{t.params[k]:.4g}" if isinstance(t.params[k], float) else str(t.params[k])
                 for k in keys]  # fmt: skip
        table.append([str(t.number), t.user_attrs["experiment"], f"{t.value:.6g}", *shown])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in table]  # fmt: skip
    if done:
        best = done[0].user_attrs["experiment"]
        lines += ["", f"best: {best}. Compare: dvc exp show --sort-by {sweep.objective}",
                  f"Take it into the workspace: dvc exp apply {best}"]  # fmt: skip
    return "\n".join(lines)


def main(trials: int | None = None) -> None:
    from trainflow.params import load_params

    params = load_params()
    sweep = params.sweep
    if sweep is None:
        raise StageError("params.yaml: no sweep section (see README: Hyper-parameter sweeps)")
    if trials is not None:
        sweep = sweep.model_copy(update={"trials": trials})
    study = run_sweep(sweep, params.seed, dvc_runner(), journal_path(sweep.study))
    print(summary(study, sweep))
