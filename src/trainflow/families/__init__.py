"""The model families, found by name, and the folder format every fitted model is saved in.

A folder holds `family.json` (family, config, training summary), the preprocessor and data
schema as JSON, and the family's own model files. `load_fitted` rebuilds any of them; a family's
module (and its library) is imported only when a model of that family is loaded or trained.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

from trainflow.errors import StageError
from trainflow.families.base import Fitted
from trainflow.io import write_json
from trainflow.model.preprocess import Preprocessor
from trainflow.params import DataParams

FAMILIES = ("linear", "mlp", "resnet", "gbdt")
"""Trainable families (params.yaml `families:` keys, train@<name> stages)."""
ENSEMBLE = "ensemble"
"""Not trained: the select stage's weighted combination of trained families."""

FAMILY_FILE = "family.json"
PREPROCESSOR_FILE = "preprocessor.json"
SCHEMA_FILE = "data_schema.json"
FORMAT_VERSION = 1


def family_module(name: str) -> ModuleType:
    """The module of a family (trainflow.families.<name>), imported on first use."""
    if name not in (*FAMILIES, ENSEMBLE):
        raise StageError(f"unknown model family {name!r}; known: {list(FAMILIES)}")
    return importlib.import_module(f"trainflow.families.{name}")


def save_fitted(fitted: Fitted, folder: Path, data: DataParams) -> None:
    """Write a fitted model's folder (the caller makes `folder` atomic)."""
    folder.mkdir(parents=True, exist_ok=True)
    fitted.save_files(folder)
    fitted.preprocessor.save(folder / PREPROCESSOR_FILE)
    (folder / SCHEMA_FILE).write_text(data.model_dump_json(indent=2))
    write_json(folder / FAMILY_FILE, {
        "format_version": FORMAT_VERSION, "family": fitted.family, "config": fitted.config,
        "summary": fitted.summary, "files": list(fitted.files),
    })  # fmt: skip


def read_family_file(folder: Path) -> dict:
    path = folder / FAMILY_FILE
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise StageError(f"{path}: not a trained model folder (no {FAMILY_FILE})") from None
    if record.get("format_version") != FORMAT_VERSION:
        raise StageError(f"{path}: format {record.get('format_version')!r} unsupported "
                         f"(want {FORMAT_VERSION}): train again")  # fmt: skip
    return record


def load_fitted(folder: Path) -> Fitted:
    """Rebuild the model saved in `folder`, whatever its family."""
    record = read_family_file(folder)
    for name in (PREPROCESSOR_FILE, SCHEMA_FILE, *record["files"]):
        if not (folder / name).exists():
            raise StageError(f"{folder / name}: missing from the model folder")
    pre = Preprocessor.load(folder / PREPROCESSOR_FILE)
    fitted = family_module(record["family"]).load(folder, record["config"], pre)
    fitted.summary = record["summary"]
    return fitted


def load_schema(folder: Path) -> DataParams:
    return DataParams.model_validate(json.loads((folder / SCHEMA_FILE).read_text()))
