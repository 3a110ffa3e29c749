"""train: fit the preprocessor on train, the Lightning MLP (dvclive-logged) and the baseline;
write weights + JSON configs to models/train/. A killed run resumes from models/resume/."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch

import trainflow.model as model_pkg
from trainflow import paths
from trainflow.io import atomic_dir, read_parquet, write_json
from trainflow.model.preprocess import fit_preprocessor
from trainflow.model.training import run_fingerprint, train_baseline, train_mlp
from trainflow.params import load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.train")


def main() -> None:
    params = load_params()
    train = read_parquet(paths.split_table("train"))
    val = read_parquet(paths.split_table("val"))
    pre = fit_preprocessor(train, params.data, params.train.preprocess)
    fingerprint = run_fingerprint([
        json.dumps([params.seed, params.data.model_dump(mode="json"),
                    params.train.model_dump(mode="json")]).encode(),
        paths.split_table("train").read_bytes(), paths.split_table("val").read_bytes(),
        *(p.read_bytes() for p in sorted(Path(model_pkg.__file__).parent.glob("*.py"))),
    ])  # fmt: skip
    mlp = train_mlp(train, val, pre, params.train, params.seed, paths.RESUME_DIR,
                    paths.TRAIN_LIVE_DIR, fingerprint)  # fmt: skip
    if mlp is None:  # another process of a DDP run: it trained its share; the primary writes
        return
    with atomic_dir(paths.TRAIN_DIR) as out:
        baseline = train_baseline(train, pre, params.train, params.seed)
        torch.save(mlp.net.state_dict(), out / paths.MODEL_WEIGHTS.name)
        torch.save(baseline.net.state_dict(), out / paths.BASELINE_WEIGHTS.name)
        (out / paths.MODEL_CONFIG.name).write_text(json.dumps(mlp.config, indent=2))
        (out / paths.BASELINE_CONFIG.name).write_text(json.dumps(baseline.config, indent=2))
        pre.save(out / paths.PREPROCESSOR.name)
        (out / paths.DATA_SCHEMA.name).write_text(params.data.model_dump_json(indent=2))
        write_json(
            out / "train_summary.json", {"model": mlp.summary, "baseline": baseline.summary}
        )
    shutil.rmtree(paths.RESUME_DIR, ignore_errors=True)  # finished: nothing to resume
    log.info("trained: %s", mlp.summary)


if __name__ == "__main__":
    run_stage("train", main)
