"""The data engines, found by name (params.yaml `data.engine`): what runs ingest, validate,
prepare, validate_prepared and split. An engine is a package here with one module per part a
stage asks for (ingest, gate, prepare, split: the functions of `trainflow.engines.base`); the
stages call them and never name an engine, and one shared test suite (tests/engines) holds
every engine to the same results. A part (and its library) is imported only when a stage runs
it, and each stage depends on its own part only (dvc.yaml)."""

from __future__ import annotations

import importlib
from typing import Any

from trainflow.errors import StageError

ENGINES = {"pandas": "trainflow.engines.pandas_engine", "spark": "trainflow.engines.spark_engine"}
PARTS = {"ingest": "ingest", "validate": "gate", "validate_prepared": "gate",
         "prepare": "prepare", "split": "split", "fetch-data": "fetch"}  # fmt: skip
"""Each data stage's part of an engine, and `trainflow fetch-data`'s (live sources' snapshots)."""


def engine_part(name: str, stage: str) -> Any:
    """The module of engine `name` (data.engine) that does `stage`'s work: it has the functions
    of the matching protocol in trainflow.engines.base."""
    if name not in ENGINES:
        raise StageError(f"unknown data engine {name!r}; known: {list(ENGINES)}")
    return importlib.import_module(f"{ENGINES[name]}.{PARTS[stage]}")


__all__ = ["ENGINES", "PARTS", "engine_part"]
