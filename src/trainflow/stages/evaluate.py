"""evaluate: the champion's test metrics (torchmetrics) against the linear baseline, the quality
gate, where the champion is weak (slices, fairness, errors, importance, attributions), the
leaderboard of every candidate family, plot tables for dvc plots, and inference speed."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import torch

from trainflow import paths
from trainflow.errors import StageError
from trainflow.evaluation.analysis import (
    SLICE_METRICS,
    confident_errors,
    fairness_gaps,
    permutation_importance_rows,
    report_markdown,
    slice_labels,
    slice_table,
    task_loss,
    worst_slices,
)
from trainflow.evaluation.attribution import mean_abs_attribution
from trainflow.evaluation.gate import check_gate, gate_summary
from trainflow.evaluation.image_grid import error_grid
from trainflow.evaluation.leaderboard import leaderboard_markdown, leaderboard_rows
from trainflow.evaluation.metrics import (
    CALIBRATION_BINS,
    EXP_SHOW,
    HEADLINE,
    confusion_rows,
    curve_tables,
    difference,
    reliability_rows,
    residual_rows,
    task_metrics,
)
from trainflow.evaluation.speed import batch_throughput, latency_percentiles
from trainflow.io import atomic_dir, read_json, read_parquet, write_json
from trainflow.params import EvaluateParams, Params, load_params
from trainflow.serving.predictor import Predictor, json_records
from trainflow.stages import run_stage
from trainflow.tasks import class_probabilities, predicted_classes

log = logging.getLogger("trainflow.evaluate")
COMPARED = ("model", "baseline")  # the champion, and the linear baseline the gate compares with
# every plot file dvc.yaml names; those that do not apply to the task are written empty ([]),
# which dvc plots skips without an error
PLOT_FILES = (
    *(f"{plot}_{name}.json"
      for plot in ("roc", "precision_recall", "reliability", "residuals") for name in COMPARED),
    "confusion.json", "slices.json", "importance.json", "attributions.json",
)  # fmt: skip


def rows_per_second(predictor: Predictor, features: pd.DataFrame, batch_size: int) -> float:
    """Rows/s predicting one batch of `evaluate.batch_size` test rows (cleaned features), as
    batch scoring runs: a full batch shows the steady rate without timing the whole split."""
    batch = features.iloc[:batch_size]
    return round(batch_throughput(lambda: predictor.predict_clean(batch), len(batch)), 1)


def single_record_latency(
    predictor: Predictor, test: pd.DataFrame, params: EvaluateParams, seed: int
) -> dict:
    """Single raw-record latency as serving sees it (cleaning + preprocessing + model)."""
    features = test[predictor.data.features]
    n = min(params.latency_rows, len(features))
    records = json_records(features.sample(n=n, random_state=seed), predictor.data)
    latency = latency_percentiles(lambda i: predictor.predict_records([records[i]]), n)
    return {"single_record_p50_ms": latency["p50_ms"],
            "single_record_p95_ms": latency["p95_ms"]}  # fmt: skip


def plot_tables(
    task: str, name: str, scores: torch.Tensor, target: torch.Tensor, params: EvaluateParams,
    labels: list[str], seed: int,
) -> dict[str, list]:  # fmt: skip
    """The task's plot tables for one model, by file name."""
    if task == "regression":
        return {f"residuals_{name}.json": residual_rows(scores, target, seed)}
    probs = torch.from_numpy(class_probabilities(task, scores.numpy()))
    plots = {f"reliability_{name}.json": reliability_rows(probs, target, CALIBRATION_BINS)}
    if task == "binary":
        for curve, rows in curve_tables(scores, target, params.curve_points).items():
            plots[f"{curve}_{name}.json"] = rows
    if name == "model":
        predicted = predicted_classes(task, scores.numpy())
        plots["confusion.json"] = confusion_rows(predicted, target.long().numpy(), labels)
    return plots


def analyse(
    predictor: Predictor, test: pd.DataFrame, scores: np.ndarray, truth: np.ndarray,
    slices: dict[str, pd.Series], params: Params,
) -> tuple[dict, dict, tuple[list[dict], pd.DataFrame, list[dict], dict[str, bytes]]]:  # fmt: skip
    """Slices, worst slices, confidently wrong rows, permutation importance and attributions
    for the champion: (plot tables, report files, (worst slices, errors, importance, PNG grids
    of the wrongest images by file name)))."""
    ev, data, task = params.evaluate, params.data, predictor.task
    table = slice_table(task, scores, truth, slices, data.labels, ev.min_slice_rows)
    metric = SLICE_METRICS[task][0]
    slice_plot = [
        {"slice": f"{col}={value}", "metric": metric, "value": e[metric]}
        for col, values in table.items()
        for value, e in values.items()
        if metric in e
    ]
    columns = [c for c in [*data.features, *data.record_keep] if c in test.columns]
    errors = confident_errors(task, scores, truth, test[columns], data.labels, ev.error_rows)
    importance = []
    if ev.importance_repeats:
        sample = np.sort(np.random.default_rng(params.seed).permutation(len(test))[
            : ev.importance_rows])  # fmt: skip
        importance = permutation_importance_rows(
            predictor.predict_clean, test[data.features].iloc[sample], truth[sample],
            task_loss(task), ev.importance_repeats, params.seed,
        )  # fmt: skip
    attributions = mean_abs_attribution(predictor.model, test[data.features], params.seed,
                                        ev.attribution_rows)  # fmt: skip
    plots = {"slices.json": slice_plot, "importance.json": importance,
             "attributions.json": attributions}  # fmt: skip
    grids: dict[str, bytes] = {}
    for col in data.image_features:  # the images themselves as one PNG; the tables point at it
        if col in errors.columns and len(errors):
            name = f"errors_{col}.png"
            score = errors["confidence" if "confidence" in errors else "abs_error"]
            grids[name] = error_grid(errors[col], errors["actual"].astype(str).tolist(),
                                     errors["predicted"].astype(str).tolist(),
                                     score.astype(float).tolist(), col)  # fmt: skip
            errors[col] = [f"{name} #{k + 1}" for k in range(len(errors))]
    error_rows = errors.astype(object).where(errors.notna(), None).to_dict("records")
    reports = {"slices.json": table, "errors.json": error_rows}
    return plots, reports, (worst_slices(task, table), errors, importance, grids)


def fairness_of(scores: np.ndarray, truth: np.ndarray, slices: dict, ev: EvaluateParams) -> dict:
    return {col: fairness_gaps(scores, truth, slices[col], ev.min_slice_rows)
            for col in ev.fairness}  # fmt: skip


def per_row_answers(task: str, scores: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """The champion's answer per test row, in test split order: the predicted label and each
    class's probability (classification), or the value (regression); unrounded, in the
    model's own float type (the server rounds the same numbers)."""
    if task == "regression":
        return pd.DataFrame({"value": scores})
    probs = class_probabilities(task, scores)
    picked = np.asarray(labels, dtype=object)[predicted_classes(task, scores)]
    return pd.DataFrame({"label": picked.astype(str),
                         **{label: probs[:, i] for i, label in enumerate(labels)}})  # fmt: skip


def main() -> None:
    params = load_params()
    test = read_parquet(paths.split_table("test"))
    task, ev, labels = params.data.task_type, params.evaluate, params.data.labels
    selection = read_json(paths.CHAMPION_DIR / paths.SELECTION_NAME)
    folders = {"model": paths.CHAMPION_DIR,
               "baseline": paths.family_dir(params.select.baseline)}  # fmt: skip
    folders |= {n: paths.family_dir(n) for n in params.select.candidates}
    predictors = {name: Predictor.load(folder) for name, folder in folders.items()}
    for name, predictor in predictors.items():
        if predictor.task != task:
            raise StageError(f"{folders[name]}: trained for {predictor.task}, params say "
                             f"{task}: run train again")  # fmt: skip
    truth = predictors["model"].truth(test)
    scores = {name: p.predict_clean(test) for name, p in predictors.items()}
    metrics = {name: task_metrics(task, torch.from_numpy(s), torch.from_numpy(truth), labels)
               for name, s in scores.items()}  # fmt: skip
    slices = {col: slice_labels(test[col], ev.bands.get(col), col in params.data.text,
                                col in params.data.image) for col in ev.slices}  # fmt: skip
    results: dict = {"task": task, "test_rows": len(test), "champion": selection["champion"]}
    for name in COMPARED:
        results[name] = metrics[name]
        if ev.fairness:  # gaps are metrics; the per-group rates behind them go to reports
            results[name]["fairness"] = {
                col: {k: v for k, v in gaps.items() if not isinstance(v, dict)}
                for col, gaps in fairness_of(scores[name], truth, slices, ev).items()
            }
    results["model_minus_baseline"] = difference(task, results["model"], results["baseline"])
    checks = check_gate(params.gate, results, task)

    plots: dict[str, list] = {file_name: [] for file_name in PLOT_FILES}
    for name in COMPARED:
        plots |= plot_tables(task, name, torch.from_numpy(scores[name]), torch.from_numpy(truth),
                             ev, labels, params.seed)  # fmt: skip
    analysis_plots, reports, (worst, errors, importance, grids) = analyse(
        predictors["model"], test, scores["model"], truth, slices, params
    )
    plots |= analysis_plots
    fairness_report = fairness_of(scores["model"], truth, slices, ev) if ev.fairness else {}
    reports["fairness.json"] = fairness_report
    reports["metrics.json"] = results
    markdown = report_markdown(task, worst, fairness_report, errors, importance, checks)

    families = {n: predictors[n] for n in params.select.candidates}
    if selection["champion"] not in families:  # an ensemble: on the leaderboard too
        families[selection["champion"]] = predictors["model"]
        metrics[selection["champion"]] = metrics["model"]
    folders = {n: paths.family_dir(n) if n in params.select.candidates else paths.CHAMPION_DIR
               for n in families}  # fmt: skip
    sizes = {n: p.model.size_bytes(folders[n]) for n, p in families.items()}
    board = leaderboard_rows(selection, {n: metrics[n] for n in families}, sizes, HEADLINE[task])
    features = test[params.data.features]
    speed = {"model": single_record_latency(predictors["model"], test, ev, params.seed)}
    speed["families"] = {
        n: {"rows_per_second": rows_per_second(p, features, ev.batch_size),
            "fit_seconds": _fit_seconds(n)}
        for n, p in families.items()
    }  # fmt: skip
    speed["model"]["batch_rows_per_s"] = speed["families"][selection["champion"]][
        "rows_per_second"
    ]

    with atomic_dir(paths.EVAL_PLOTS_DIR) as out:
        for file_name, rows in plots.items():
            (out / file_name).write_text(json.dumps(rows, indent=1) + "\n")
        for file_name, content in reports.items():
            write_json(out / f"report_{file_name}", content)
        write_json(out / "gate.json", checks)
        (out / "analysis.md").write_text(markdown)
        for file_name, png in grids.items():
            (out / file_name).write_bytes(png)
        per_row_answers(task, scores["model"], labels).to_parquet(
            out / paths.EVAL_PREDICTIONS.name, index=False
        )
    write_json(paths.LEADERBOARD, board)
    paths.LEADERBOARD_TABLE.write_text(
        leaderboard_markdown(board, speed["families"], selection["metric"])
    )
    write_json(paths.EVAL_METRICS, {k: results["model"][k] for k in EXP_SHOW[task]})
    write_json(paths.EVAL_SPEED, {"speed": speed})
    summary = gate_summary(checks)
    write_json(paths.GATE_METRICS, {"gate": summary["passed"]})
    headline = HEADLINE[task][0]
    log.info("test %s: %s %.4f, baseline %.4f", headline, selection["champion"],
             results["model"][headline], results["baseline"][headline])  # fmt: skip
    log.info("quality gate: %s (%d of %d criteria met)", "passed" if summary["passed"] else
             "FAILED", summary["checked"] - summary["failed"], summary["checked"])  # fmt: skip


def _fit_seconds(name: str) -> float | None:
    path = paths.fit_speed(name)
    return json.loads(path.read_text())["fit_seconds"] if path.exists() else None


if __name__ == "__main__":
    run_stage("evaluate", main)
