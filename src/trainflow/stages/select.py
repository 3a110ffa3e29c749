"""select: every candidate family's metrics on the validation split, the champion by
`select.metric` (or a weighted ensemble of candidates, when better on validation), copied to
models/champion/. The test split is not read."""

from __future__ import annotations

import logging
import shutil

from trainflow import paths
from trainflow.evaluation.selection import choose
from trainflow.families import ENSEMBLE, save_fitted
from trainflow.families.ensemble import assemble
from trainflow.io import atomic_dir, read_parquet, write_json
from trainflow.params import load_params
from trainflow.serving.predictor import Predictor
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.select")


def main() -> None:
    params = load_params()
    val = read_parquet(paths.split_table("val"))
    names = params.select.candidates
    predictors = {n: Predictor.load(paths.family_dir(n)) for n in names}
    truth = next(iter(predictors.values())).truth(val)
    scores = {n: p.predict_clean(val) for n, p in predictors.items()}
    metric = params.selection_metric
    selection = choose(params.data.task_type, metric, scores, truth, params.data.labels,
                       params.select.ensemble, params.select.ensemble_rounds)  # fmt: skip
    with atomic_dir(paths.CHAMPION_DIR) as out:
        if selection.champion == ENSEMBLE:
            members = {n: (predictors[n].model, paths.family_dir(n)) for n in selection.weights}
            save_fitted(assemble(members, selection.weights), out, params.data)
        else:
            shutil.rmtree(out)
            shutil.copytree(paths.family_dir(selection.champion), out)
        write_json(out / paths.SELECTION_NAME, selection.to_dict())
    write_json(paths.SELECT_METRICS, {"champion": selection.champion,
                                      f"val_{metric}": selection.champion_value})  # fmt: skip
    shown = ", ".join(f"{n} {m[metric]:.4f}" for n, m in selection.candidates.items())
    log.info("val %s: %s", metric, shown)
    if selection.ensemble_metrics is not None:
        log.info("weighted ensemble %s: val %s %.4f", selection.weights, metric,
                 selection.ensemble_metrics[metric])  # fmt: skip
    log.info("champion: %s (val %s %.4f)", selection.champion, metric, selection.champion_value)


if __name__ == "__main__":
    run_stage("select", main)
