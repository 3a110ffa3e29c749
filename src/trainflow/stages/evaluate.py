"""evaluate: test-split metrics of the task (torchmetrics), plot tables for dvc plots, and
inference speed, for the model and the baseline."""

from __future__ import annotations

import json
import logging

import pandas as pd
import torch

from trainflow import paths
from trainflow.errors import StageError
from trainflow.evaluation.metrics import (
    CALIBRATION_BINS,
    HEADLINE,
    confusion_rows,
    curve_tables,
    difference,
    predicted_classes,
    reliability_rows,
    residual_rows,
    task_metrics,
)
from trainflow.evaluation.speed import batch_throughput, latency_percentiles
from trainflow.io import atomic_dir, read_parquet, write_json
from trainflow.params import EvaluateParams, load_params
from trainflow.serving.predictor import Predictor
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
    "confusion.json",
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
    records = features.sample(n=n, random_state=seed).astype(object)
    records = records.where(records.notna(), None).to_dict("records")
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
    probs = torch.stack([1 - scores, scores], dim=1) if task == "binary" else scores
    plots = {f"reliability_{name}.json": reliability_rows(probs, target, CALIBRATION_BINS)}
    if task == "binary":
        for curve, rows in curve_tables(scores, target, params.curve_points).items():
            plots[f"{curve}_{name}.json"] = rows
    if name == "model":
        predicted = predicted_classes(task, scores)
        plots["confusion.json"] = confusion_rows(predicted, target.long().numpy(), labels)
    return plots


def main() -> None:
    params = load_params()
    test = read_parquet(paths.split_table("test"))
    results: dict = {"task": params.data.task_type, "test_rows": len(test)}
    plots: dict[str, list] = {file_name: [] for file_name in PLOT_FILES}
    for name, (weights, config) in MODELS.items():
        predictor = Predictor.load(paths.TRAIN_DIR, weights, config)
        task = predictor.task
        if task != params.data.task_type:
            raise StageError(f"{paths.TRAIN_DIR}: trained for {task}, params say "
                             f"{params.data.task_type}: run train again")  # fmt: skip
        scores = torch.from_numpy(predictor.predict_clean(test))
        if task == "regression":
            target = torch.from_numpy(test[params.data.target].to_numpy(dtype="float64"))
        else:
            target = torch.from_numpy(
                predictor.preprocessor.encode_target(test[params.data.target])
            )
        metrics = task_metrics(task, scores, target, params.data.labels)
        metrics["speed"] = measure_speed(predictor, test, params.evaluate, params.seed)
        results[name] = metrics
        plots |= plot_tables(task, name, scores, target, params.evaluate, params.data.labels,
                             params.seed)  # fmt: skip
    results["model_minus_baseline"] = difference(
        params.data.task_type, results["model"], results["baseline"]
    )
    with atomic_dir(paths.EVAL_PLOTS_DIR) as out:
        for file_name, rows in plots.items():
            (out / file_name).write_text(json.dumps(rows, indent=1) + "\n")
    write_json(paths.EVAL_METRICS, results)
    headline = HEADLINE[params.data.task_type][0]
    log.info("test %s: model %.4f, baseline %.4f",
             headline, results["model"][headline], results["baseline"][headline])  # fmt: skip


if __name__ == "__main__":
    run_stage("evaluate", main)
