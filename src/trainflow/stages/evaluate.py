"""evaluate: test-split metrics of the task (torchmetrics), plot tables for dvc plots, and
inference speed, for the model and the baseline."""

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
from trainflow.evaluation.gate import check_gate, gate_summary
from trainflow.evaluation.metrics import (
    CALIBRATION_BINS,
    HEADLINE,
    confusion_rows,
    curve_tables,
    difference,
    reliability_rows,
    residual_rows,
    task_metrics,
)
from trainflow.evaluation.speed import batch_throughput, latency_percentiles
from trainflow.io import atomic_dir, read_parquet, write_json
from trainflow.params import EvaluateParams, Params, load_params
from trainflow.serving.predictor import (
    Predictor,
    class_probabilities,
    json_records,
    predicted_classes,
)
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.evaluate")
MODELS = {
    "model": (paths.MODEL_WEIGHTS.name, paths.MODEL_CONFIG.name),
    "baseline": (paths.BASELINE_WEIGHTS.name, paths.BASELINE_CONFIG.name),
}
# every plot file dvc.yaml names; those that do not apply to the task are written empty ([]),
# which dvc plots skips without an error
PLOT_FILES = (
    *(f"{plot}_{name}.json"
      for plot in ("roc", "precision_recall", "reliability", "residuals") for name in MODELS),
    "confusion.json", "slices.json", "importance.json",
)  # fmt: skip


def measure_speed(
    predictor: Predictor, test: pd.DataFrame, params: EvaluateParams, seed: int
) -> dict:
    """Batch rows/s over the whole test split; single raw-record latency as serving sees it."""
    features = test[predictor.data.features]

    def predict_all() -> None:
        for start in range(0, len(features), params.batch_size):
            predictor.predict_clean(features.iloc[start : start + params.batch_size])

    n = min(params.latency_rows, len(features))
    records = json_records(features.sample(n=n, random_state=seed), predictor.data)
    latency = latency_percentiles(lambda i: predictor.predict_records([records[i]]), n)
    return {
        "batch_rows_per_s": round(batch_throughput(predict_all, len(features)), 1),
        "single_record_p50_ms": latency["p50_ms"],
        "single_record_p95_ms": latency["p95_ms"],
    }


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
) -> tuple[dict, dict, tuple[list[dict], pd.DataFrame, list[dict]]]:  # fmt: skip
    """Slices, worst slices, confidently wrong rows, permutation importance for the model:
    (plot tables, report files, (worst slices, errors, importance) for the markdown)."""
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
        importance = permutation_importance_rows(
            predictor.predict_clean, test[data.features], truth, task_loss(task),
            ev.importance_repeats, params.seed,
        )  # fmt: skip
    plots = {"slices.json": slice_plot, "importance.json": importance}
    error_rows = errors.astype(object).where(errors.notna(), None).to_dict("records")
    reports = {"slices.json": table, "errors.json": error_rows}
    return plots, reports, (worst_slices(task, table), errors, importance)


def main() -> None:
    params = load_params()
    test = read_parquet(paths.split_table("test"))
    task = params.data.task_type
    results: dict = {"task": task, "test_rows": len(test)}
    plots: dict[str, list] = {file_name: [] for file_name in PLOT_FILES}
    ev = params.evaluate
    slices = {col: slice_labels(test[col], ev.bands.get(col)) for col in ev.slices}
    fairness_report: dict = {}
    speed: dict[str, dict] = {}  # kept apart: every other metric is reproducible bit for bit
    for name, (weights, config) in MODELS.items():
        predictor = Predictor.load(paths.TRAIN_DIR, weights, config)
        if predictor.task != task:
            raise StageError(f"{paths.TRAIN_DIR}: trained for {predictor.task}, params say "
                             f"{task}: run train again")  # fmt: skip
        scores, truth = predictor.predict_clean(test), predictor.truth(test)
        metrics = task_metrics(task, torch.from_numpy(scores), torch.from_numpy(truth),
                               params.data.labels)  # fmt: skip
        if ev.fairness:  # gaps are metrics; the per-group rates behind them go to reports
            fairness = {
                col: fairness_gaps(scores, truth, slices[col], ev.min_slice_rows)
                for col in ev.fairness
            }
            metrics["fairness"] = {
                col: {k: v for k, v in gaps.items() if not isinstance(v, dict)}
                for col, gaps in fairness.items()
            }
            if name == "model":
                fairness_report = fairness
        speed[name] = measure_speed(predictor, test, params.evaluate, params.seed)
        results[name] = metrics
        plots |= plot_tables(task, name, torch.from_numpy(scores), torch.from_numpy(truth),
                             params.evaluate, params.data.labels, params.seed)  # fmt: skip
        if name == "model":
            analysis_plots, reports, (worst, errors, importance) = analyse(
                predictor, test, scores, truth, slices, params
            )
            plots |= analysis_plots
    results["model_minus_baseline"] = difference(task, results["model"], results["baseline"])
    checks = check_gate(params.gate, results, task)
    markdown = report_markdown(task, worst, fairness_report, errors, importance, checks)
    reports["fairness.json"] = fairness_report
    with atomic_dir(paths.EVAL_PLOTS_DIR) as out:
        for file_name, rows in plots.items():
            (out / file_name).write_text(json.dumps(rows, indent=1) + "\n")
        for file_name, content in reports.items():
            write_json(out / f"report_{file_name}", content)
        write_json(out / "gate.json", checks)
        (out / "analysis.md").write_text(markdown)
    write_json(paths.EVAL_METRICS, results)
    write_json(paths.SPEED_METRICS, {"speed": speed})
    summary = gate_summary(checks)
    write_json(paths.GATE_METRICS, {"gate": summary})
    headline = HEADLINE[task][0]
    log.info("test %s: model %.4f, baseline %.4f",
             headline, results["model"][headline], results["baseline"][headline])  # fmt: skip
    log.info("quality gate: %s (%d of %d criteria met)", "passed" if summary["passed"] else
             "FAILED", summary["checked"] - summary["failed"], summary["checked"])  # fmt: skip


if __name__ == "__main__":
    run_stage("evaluate", main)
