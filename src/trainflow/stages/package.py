"""package: model card + BentoML model + bento built offline, exported to models/bundle/;
refused when the quality gate (params.gate, checked by evaluate) failed."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from trainflow import numerics, paths
from trainflow.errors import StageError
from trainflow.evaluation.gate import failures
from trainflow.evaluation.metrics import HEADLINE
from trainflow.families import PREPROCESSOR_FILE
from trainflow.io import atomic_dir, read_json, read_parquet, write_json
from trainflow.params import Params, load_params
from trainflow.serving.bundle import (
    EXPORTS_DIR,
    SERVING_PACKAGES,
    build_bundle,
    configure_bentoml_env,
    content_sha256,
    serving_requirements,
)
from trainflow.serving.card import model_card
from trainflow.serving.drift import reference_profile
from trainflow.serving.export import check_round_trip
from trainflow.serving.predictor import Predictor, json_records
from trainflow.serving.schema import request_schema
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.package")
LOCK_FILE = "requirements.lock"
BENTOML_HOME = ".bentoml"


def main() -> None:
    params = load_params()
    checks = read_json(paths.GATE_REPORT)
    if not read_json(paths.GATE_METRICS)["gate"]:
        raise StageError(
            f"quality gate failed, no bundle built: {failures(checks)} "
            f"(criteria: params.yaml gate; report: {paths.GATE_REPORT})"
        )
    configure_bentoml_env(Path(BENTOML_HOME))
    metrics = {
        "ingest": read_json(paths.INGEST_METRICS)["ingest"],
        "data_quality": read_json(paths.VALIDATION_REPORT_DIR / paths.RESULTS_NAME)[
            "raw_contract"
        ],
        "prepared_quality": read_json(paths.PREPARED_VALIDATION_DIR / paths.RESULTS_NAME)[
            "prepared_contract"
        ],
        "prepare": read_json(paths.PREPARE_METRICS)["cleaning"],
        "split": read_json(paths.SPLIT_METRICS)["split"],
        "eval": read_json(paths.EVAL_REPORT),
        "gate": checks,
        "selection": read_json(paths.CHAMPION_DIR / paths.SELECTION_NAME),
    }
    test = read_parquet(paths.split_table("test"))
    slices = read_json(paths.SLICES_REPORT)
    lineage = {"git": git_state(), "latency": read_json(paths.EVAL_SPEED)["speed"]["model"],
               "machine": numerics.record()}  # fmt: skip
    started_from = init_sources(paths.CHAMPION_DIR)
    if started_from:  # transfer learning: the registered weights each network started from
        lineage["init_from"] = started_from
    predictor = Predictor.load(paths.CHAMPION_DIR)
    with tempfile.TemporaryDirectory(prefix="trainflow-export-") as tmp:
        exports = Path(tmp) / EXPORTS_DIR
        exports.mkdir()
        metrics["export"] = export_and_check(predictor, exports, test)
        cards = (model_card(params, metrics, slices, lineage), model_card(params, metrics, slices))
        documents = write_documents(Path(tmp), params, test, lineage)
        _build(params, metrics, cards, predictor, exports, documents, lineage)


def init_sources(champion: Path) -> dict[str, dict]:
    """Per network of the champion (an ensemble's members too) that started from a registered
    model's weights: where they came from (train.init_from, recorded at training)."""
    found = {}
    for meta_file in sorted(champion.rglob("family.json")):
        meta = read_json(meta_file)
        record = meta.get("summary", {}).get("init_from")
        if record:
            found[meta["family"]] = {k: v for k, v in record.items() if k != "tensors_fresh"}
    return found


def ignored_columns() -> list[str]:
    """Source columns params.yaml does not mention (prepare's report): a request may carry
    them, as the source's rows do; the model ignores them."""
    return read_json(paths.PREPARE_METRICS)["cleaning"].get("columns_not_used", [])


def git_state() -> dict:
    """The commit HEAD points at and the tracked files changed since, leaving out DVC's own
    records (dvc.lock, metrics/), which every run rewrites. No commit outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":!dvc.lock", f":!{paths.METRICS_DIR}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "uncommitted": []}
    return {"commit": head, "uncommitted": sorted(line[3:] for line in status.splitlines())}


def write_documents(
    folder: Path, params: Params, test: pd.DataFrame, lineage: dict
) -> tuple[Path, ...]:
    """What a consumer of the bundle needs besides the model: the training split's reference
    profile (drift), the params it was built with (seed, data, train, package), the locked
    environment, the request's JSON schema, a real example request (two test rows) and the
    build's lineage (git commit, measured latency)."""
    built_from = params.model_dump(
        mode="json", include={"seed", "data", "train", "families", "select", "package"}
    )
    train = read_parquet(paths.split_table("train"))
    files = {
        "reference_profile.json": reference_profile(train, params.data),  # for /drift
        "params.json": built_from,  # the sections this stage depends on (dvc.yaml)
        "input_schema.json": request_schema(
            params.data,
            params.package.max_batch_records,
            tuple(ignored_columns()),
            params.package.max_text_chars,
            params.package.max_image_bytes,
        ),
        "example_request.json": {"records": json_records(test.head(2), params.data)},
        paths.LINEAGE_NAME: lineage,  # left out of content_sha256: differs on every rebuild
    }
    for name, content in files.items():
        write_json(folder / name, content)
    shutil.copy2(LOCK_FILE, folder / LOCK_FILE)
    return (*(folder / name for name in files), folder / LOCK_FILE)


def export_and_check(predictor: Predictor, folder: Path, test: pd.DataFrame) -> dict:
    """Export the champion (its family's formats: torch.export + ONNX for networks, ONNX for
    trees; each member of an ensemble) into `folder` and prove the exports answer as it does on
    the test split, and the preprocessor's raw-record round trip; StageError otherwise."""
    features = test[predictor.data.features]
    parity = predictor.model.export(folder, features)
    pre_path = paths.CHAMPION_DIR / PREPROCESSOR_FILE
    round_trip = check_round_trip(predictor.preprocessor, predictor.data, pre_path, test)
    log.info("exports answer as the %s champion on %d test rows: %s; preprocessor round trip "
             "identical", predictor.model.family, len(test), parity)  # fmt: skip
    return {"parity": parity, "preprocessor_round_trip": round_trip}


def serving_modules(model) -> tuple[str, ...]:
    """The champion's modules and every family's: a later version's model (another family)
    can then be served beside this one as its challenger (`trainflow serve --challenger`).
    Modules are files; a family's libraries are imported only when its model is loaded, and
    the bundle's requirements stay the champion's."""
    from trainflow.families import ENSEMBLE, FAMILIES

    every = [f"families/{name}.py" for name in (*FAMILIES, ENSEMBLE)]
    return tuple(dict.fromkeys([*model.modules, *every]))


def _build(
    params: Params, metrics: dict, cards: tuple[str, str], predictor: Predictor, exports: Path,
    documents: tuple[Path, ...], lineage: dict,
) -> None:  # fmt: skip
    model = predictor.model
    packages = (*SERVING_PACKAGES, *model.preprocessor.packages, *model.packages)
    packages = tuple(dict.fromkeys(packages))
    requirements = serving_requirements(Path(LOCK_FILE).read_text(), packages)
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
        "family": model.family,
        "data": params.data.model_dump(),
        "ignored_columns": ignored_columns(),
        "max_text_chars": params.package.max_text_chars,
        "max_image_bytes": params.package.max_image_bytes,
        "max_batch_records": params.package.max_batch_records,
        "max_request_bytes": params.package.max_request_bytes,
        "max_explain_records": params.package.max_explain_records,
        "threads_per_worker": params.package.threads_per_worker,
        "batching": params.package.batching.model_dump(),
        "prediction_log": params.package.prediction_log.model_dump(),
        "data_hashes": {  # for /metadata: which data this model learned from
            "source_sha256": metrics["ingest"]["source"]["sha256"],
            "snapshot_sha256": metrics["ingest"]["snapshot_sha256"],
        },
        "metrics": summary | {"champion": model.family},
    }
    with atomic_dir(paths.BUNDLE_DIR) as out:
        archive = out / paths.BUNDLE_ARCHIVE_NAME
        modules = serving_modules(model)
        tags = build_bundle(paths.CHAMPION_DIR, cards, params.package.model_name, config,
                            requirements, archive, documents, modules, exports)  # fmt: skip
        tags["content_sha256"] = content_sha256(archive, cards, skip=(paths.LINEAGE_NAME,))
        (out / paths.MODEL_CARD_NAME).write_text(cards[0])
        # also beside the archive: `dvc get` them without BentoML
        shutil.copytree(exports, out / EXPORTS_DIR)
        write_json(out / "bundle.json", tags | {"requirements": requirements,
                   "export": metrics["export"], "lineage": lineage})  # fmt: skip
    write_json(paths.BUNDLE_METRICS, {"bundle": tags})  # verify compares content_sha256
    log.info("bundle %s -> %s (content %s)", tags["bento_tag"], paths.bundle_archive(),
             tags["content_sha256"][:16])  # fmt: skip


if __name__ == "__main__":
    run_stage("package", main)
