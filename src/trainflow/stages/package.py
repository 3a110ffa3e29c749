"""package: model card + BentoML model + bento built offline, exported to models/bundle/;
refused when the quality gate (params.gate, checked by evaluate) failed."""

from __future__ import annotations

import logging
from pathlib import Path

from trainflow import paths
from trainflow.errors import StageError
from trainflow.evaluation.gate import failures
from trainflow.evaluation.metrics import HEADLINE
from trainflow.io import atomic_dir, read_json, write_json
from trainflow.params import load_params
from trainflow.serving.bundle import build_bundle, configure_bentoml_env, serving_requirements
from trainflow.serving.card import model_card
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.package")
LOCK_FILE = "requirements.lock"
BENTOML_HOME = ".bentoml"


def main() -> None:
    params = load_params()
    checks = read_json(paths.GATE_REPORT)
    if not read_json(paths.GATE_METRICS)["gate"]["passed"]:
        raise StageError(
            f"quality gate failed, no bundle built: {failures(checks)} "
            f"(criteria: params.yaml gate; report: {paths.GATE_REPORT})"
        )
    configure_bentoml_env(Path(BENTOML_HOME))
    metrics = {
        "ingest": read_json(paths.INGEST_METRICS)["ingest"],
        "data_quality": read_json(paths.DATA_QUALITY)["raw_contract"],
        "prepared_quality": read_json(paths.PREPARED_QUALITY)["prepared_contract"],
        "prepare": read_json(paths.PREPARE_METRICS)["cleaning"],
        "split": read_json(paths.SPLIT_METRICS)["split"],
        "eval": read_json(paths.EVAL_METRICS),
        "gate": checks,
    }
    card = model_card(params, metrics)
    requirements = serving_requirements(Path(LOCK_FILE).read_text())
    ev, task = metrics["eval"], params.data.task_type
    headline = HEADLINE[task]
    summary = (
        {"task": task}
        | {k: ev["model"][k] for k in headline}
        | {
            f"baseline_{headline[0]}": ev["baseline"][headline[0]],
            "test_rows": ev["test_rows"],
        }
    )
    config = {
        "data": params.data.model_dump(),
        "max_batch_records": params.package.max_batch_records,
        "metrics": summary,
    }
    with atomic_dir(paths.BUNDLE_DIR) as out:
        tags = build_bundle(paths.TRAIN_DIR, card, params.package.model_name, config,
                            requirements, out / paths.BUNDLE_ARCHIVE_NAME)  # fmt: skip
        (out / paths.MODEL_CARD_NAME).write_text(card)
        write_json(out / "bundle.json", tags | {"requirements": requirements})
    log.info("bundle %s -> %s", tags["bento_tag"], paths.bundle_archive())


if __name__ == "__main__":
    run_stage("package", main)
