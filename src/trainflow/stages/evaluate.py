"""evaluate: test-split metrics (torchmetrics), curves for dvc plots, and inference speed,
for the model and the baseline."""

from __future__ import annotations

import logging

import pandas as pd
import torch

from trainflow import paths
from trainflow.evaluation.metrics import binary_metrics, confusion_rows, curve_tables
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


def main() -> None:
    params = load_params()
    test = read_parquet(paths.split_table("test"))
    results: dict = {"test_rows": len(test)}
    plots: dict[str, list] = {}
    for name, (weights, config) in MODELS.items():
        predictor = Predictor.load(paths.TRAIN_DIR, weights, config)
        probs = torch.from_numpy(predictor.predict_clean(test))
        target = torch.from_numpy(predictor.preprocessor.encode_target(test[params.data.target]))
        metrics = binary_metrics(probs, target)
        metrics["speed"] = measure_speed(predictor, test, params.evaluate, params.seed)
        results[name] = metrics
        for curve, rows in curve_tables(probs, target, params.evaluate.curve_points).items():
            plots[f"{curve}_{name}.json"] = rows
        if name == "model":
            plots["confusion.json"] = confusion_rows(probs, target, params.data.labels)
    results["model_minus_baseline"] = {
        k: round(results["model"][k] - results["baseline"][k], 6)
        for k in ("accuracy", "f1", "auroc", "average_precision")
    }
    with atomic_dir(paths.EVAL_PLOTS_DIR) as out:
        for file_name, rows in plots.items():
            pd.DataFrame(rows).to_json(out / file_name, orient="records", indent=1)
    write_json(paths.EVAL_METRICS, results)
    log.info("test accuracy: model %.4f, baseline %.4f",
             results["model"]["accuracy"], results["baseline"]["accuracy"])  # fmt: skip


if __name__ == "__main__":
    run_stage("evaluate", main)
