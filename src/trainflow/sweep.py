"""`trainflow sweep`: search across model families and their settings (Optuna's TPE) by DVC
experiments.

The space is conditional: each trial first picks a family, then values for that family's own
keys only (`sweep.space.<family>`). A trial is one `dvc exp run -n <study>-<number>` that makes
the family the only selection candidate (`select.candidates=[<family>]`, no ensemble), sets its
values, and resets every other family's searched keys to the committed baseline, so each
experiment differs from HEAD by its own family's values alone. DVC reuses its caches (only the
trial's family retrains), `dvc exp show` compares trials, and the result is read back from the
experiment's metrics (`sweep.objective`, the validation metric the select stage writes).

A sweep stops at `sweep.trials` completed trials or when its time budget is spent (no trial
starts after it; the one running finishes). The study lives in an Optuna journal file
(.sweeps/<study>.log), so a sweep that was interrupted (Ctrl-C, kill, a crash) resumes where it
stopped: a trial whose experiment finished is recorded from it, one that did not is run again
with the same values. `trainflow sweep --apply` writes each family's best values into
params.yaml, so the next `dvc repro` selects (and ensembles) among the tuned families.
"""

from __future__ import annotations

import json
import logging
import math
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainflow.errors import StageError
from trainflow.params import CategoricalSpace, RangeSpace, SweepParams

log = logging.getLogger("trainflow.sweep")

SWEEP_DIR = Path(".sweeps")
MAX_FAILURES_IN_A_ROW = 3
FAMILY_KEY = "family"  # the trial's first choice (an Optuna parameter)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh])\s*$")


def journal_path(study: str) -> Path:
    return SWEEP_DIR / f"{study}.log"


def parse_duration(text: str) -> float:
    """'90s', '10m', '1.5h' -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise StageError(f"time budget {text!r}: write a number and s, m or h (e.g. 10m)")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


def suggest_value(trial: Any, key: str, dim: RangeSpace | CategoricalSpace) -> Any:
    if isinstance(dim, CategoricalSpace):
        # Optuna's choices must be scalars: a list goes in as its JSON
        return json.loads(trial.suggest_categorical(key, [json.dumps(c) for c in dim.choices]))
    if dim.is_int:
        return trial.suggest_int(key, int(dim.low), int(dim.high), log=dim.log,
                                 step=int(dim.step or 1))  # fmt: skip
    return trial.suggest_float(key, dim.low, dim.high, log=dim.log, step=dim.step)


def suggest(trial: Any, space: dict[str, dict[str, RangeSpace | CategoricalSpace]]) -> tuple[
    str, dict[str, Any]]:  # fmt: skip
    """The trial's family, then values for that family's keys (a conditional space)."""
    family = trial.suggest_categorical(FAMILY_KEY, list(space))
    return family, {key: suggest_value(trial, key, dim) for key, dim in space[family].items()}


def lookup(params: dict, key: str) -> Any:
    node: Any = params
    for part in key.split("."):
        node = node[part]
    return node


def trial_settings(family: str, values: dict[str, Any], space: dict, baseline: dict) -> dict:
    """Every -S a trial sets: the family as the only candidate, its values, and the other
    families' searched keys at their baseline values."""
    settings: dict[str, Any] = {"select.candidates": [family], "select.ensemble": False}
    for other, keys in space.items():
        if other != family:
            settings |= {key: lookup(baseline, key) for key in keys}
    return settings | values


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
    experiment is not there, did not finish (a killed run stays "Running", its metrics the
    workspace's), or has no finite value for it."""
    for row in rows:
        if row.get("Experiment") == experiment:
            if row.get("State") not in (None, "", "-", "Success"):
                return None
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
    clock: Callable[[], float] = time.monotonic


def dvc_runner() -> Runner:
    def run_experiment(name: str, sets: list[str], targets: list[str]) -> int:
        cmd = ["dvc", "exp", "run", "-n", name, *sets, *targets]
        log.info("$ %s", " ".join(cmd))
        return subprocess.run(cmd).returncode  # its output (and any error) goes to the terminal

    def experiments() -> list[dict[str, Any]]:
        import dvc.api

        return dvc.api.exp_show()

    return Runner(run_experiment, experiments)


def committed_params() -> dict:
    """params.yaml as HEAD holds it: the baseline every trial is an experiment against."""
    import yaml

    done = subprocess.run(["git", "show", "HEAD:params.yaml"], capture_output=True, text=True)
    if done.returncode != 0:
        raise StageError("trainflow sweep compares experiments with a commit: commit "
                         "params.yaml first (git add -A && git commit)")  # fmt: skip
    return yaml.safe_load(done.stdout)


def space_record(sweep: SweepParams) -> dict:
    return {f: {k: v.model_dump(mode="json") for k, v in keys.items()}
            for f, keys in sweep.space.items()}  # fmt: skip


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
    space = space_record(sweep)
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


def completed(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def check_names_free(study: Any, sweep: SweepParams, runner: Runner, storage_path: Path) -> None:
    """Stop before the first trial if experiments already carry the names this study would
    give its next trials: their journal was deleted (or the study name is reused), and
    `dvc exp run -n` would refuse each trial in turn."""
    taken = re.compile(rf"^{re.escape(sweep.study)}-(\d+)$")
    known = len(study.trials)
    clashes = sorted(
        (int(m.group(1)) for row in runner.experiments()
         if isinstance(row.get("Experiment"), str) and (m := taken.match(row["Experiment"]))
         and int(m.group(1)) >= known),
    )  # fmt: skip
    if clashes:
        names = [experiment_name(sweep.study, n) for n in clashes]
        shown = " ".join(names[:6]) + (" ..." if len(names) > 6 else "")
        raise StageError(
            f"sweep.study {sweep.study!r}: experiments {shown} exist but {storage_path} does "
            f"not record them (deleted journal?); name a new study (sweep.study) or remove "
            f"them: dvc exp remove {' '.join(names)}"
        )


def run_sweep(
    sweep: SweepParams, seed: int, runner: Runner, storage_path: Path, baseline: dict,
    time_budget: float | None = None,
) -> Any:  # fmt: skip
    """Run trials until `sweep.trials` have completed (counting those of earlier runs) or,
    when given, `time_budget` seconds of this run are spent."""
    from optuna.trial import TrialState

    study = open_study(sweep, seed, storage_path)
    recover(study, sweep, runner)
    check_names_free(study, sweep, runner, storage_path)
    failures, started = 0, runner.clock()
    while (done := len(completed(study))) < sweep.trials:
        spent = runner.clock() - started
        if time_budget is not None and spent >= time_budget:
            log.info("time budget of %.0f s spent: stopping after %d completed trials",
                     time_budget, done)  # fmt: skip
            break
        trial = study.ask()
        name = experiment_name(sweep.study, trial.number)
        trial.set_user_attr("experiment", name)
        family, values = suggest(trial, sweep.space)
        log.info("trial %d (%d of %d): %s %s", trial.number, done + 1, sweep.trials, family,
                 ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items()))  # fmt: skip
        settings = trial_settings(family, values, sweep.space, baseline)
        code = runner.run_experiment(name, set_args(settings), list(sweep.targets))
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


def best_per_family(study: Any, sweep: SweepParams) -> dict[str, Any]:
    """The best completed trial of each family searched."""
    reverse = sweep.direction == "maximize"
    best: dict[str, Any] = {}
    for t in sorted(completed(study), key=lambda t: t.value, reverse=reverse):
        best.setdefault(t.params[FAMILY_KEY], t)
    return best


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary(study: Any, sweep: SweepParams) -> str:
    """The completed trials, best first, each with its family and values; then the best of
    each family and how to take them."""
    done = sorted(completed(study), key=lambda t: t.value, reverse=sweep.direction == "maximize")
    table = [["trial", "experiment", FAMILY_KEY, sweep.objective, "values"]]
    for t in done:
        values = " ".join(f"{k.split('.')[-1]}={_shown(v)}" for k, v in t.params.items()
                          if k != FAMILY_KEY)  # fmt: skip
        table.append([str(t.number), t.user_attrs["experiment"], t.params[FAMILY_KEY],
                      f"{t.value:.6g}", values])  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in table]  # fmt: skip
    if done:
        per_family = best_per_family(study, sweep)
        bests = ", ".join(f"{f} {t.user_attrs['experiment']} ({t.value:.6g})"
                          for f, t in per_family.items())  # fmt: skip
        lines += ["", f"best per family: {bests}"]
        lines += [f"best: {done[0].user_attrs['experiment']}. Compare: dvc exp show --sort-by "
                  f"{sweep.objective}",
                  "Take each family's best values into params.yaml (then dvc repro selects "
                  "among them): trainflow sweep --apply"]  # fmt: skip
    return "\n".join(lines)


def apply_best(study: Any, sweep: SweepParams, params_path: Path) -> dict[str, Any]:
    """Write each searched family's best values into params.yaml (its comments kept)."""
    from dvc.utils.serialize import modify_yaml

    chosen: dict[str, Any] = {}
    for family, trial in best_per_family(study, sweep).items():
        for key, dim in sweep.space[family].items():
            value = trial.params[key]
            # a choice is stored as its JSON (see suggest_value)
            chosen[key] = json.loads(value) if isinstance(dim, CategoricalSpace) else value
    with modify_yaml(params_path) as data:
        for key, value in chosen.items():
            *parents, leaf = key.split(".")
            node = data
            for part in parents:
                node = node[part]
            node[leaf] = value
    return chosen


def main(trials: int | None = None, time_budget: str | None = None, apply: bool = False) -> None:
    from trainflow import paths
    from trainflow.params import load_params

    params = load_params()
    sweep = params.sweep
    if sweep is None:
        raise StageError("params.yaml: no sweep section (see docs/experiments.md)")
    if trials is not None:
        sweep = sweep.model_copy(update={"trials": trials})
    if apply:
        study = open_study(sweep, params.seed, journal_path(sweep.study))
        if not completed(study):
            raise StageError(f"sweep.study {sweep.study!r} has no completed trial to apply")
        for key, value in apply_best(study, sweep, paths.PARAMS).items():
            print(f"{key}: {json.dumps(value)}")
        print("written to params.yaml: `dvc repro` trains the tuned families and selects")
        return
    budget = parse_duration(time_budget or sweep.time_budget) \
        if (time_budget or sweep.time_budget) else None  # fmt: skip
    study = run_sweep(sweep, params.seed, dvc_runner(), journal_path(sweep.study),
                      committed_params(), budget)  # fmt: skip
    print(summary(study, sweep))
