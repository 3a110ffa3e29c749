"""The data engines, found by name (params.yaml `data.engine`): what runs ingest, validate,
prepare, validate_prepared and split. Each engine is a module here with the functions of
`trainflow.engines.base.DataEngine`; the stages call them and never name an engine, and one
shared contract test (tests/engines) holds every engine to the same results. An engine's module
(and its library) is imported only when a stage asks for it.
"""

from __future__ import annotations

import importlib
from typing import cast

from trainflow.engines.base import DataEngine
from trainflow.errors import StageError

ENGINES = {"pandas": "trainflow.engines.pandas_engine", "spark": "trainflow.engines.spark_engine"}


def data_engine(name: str) -> DataEngine:
    """The engine called `name` (data.engine)."""
    if name not in ENGINES:
        raise StageError(f"unknown data engine {name!r}; known: {list(ENGINES)}")
    return cast(DataEngine, importlib.import_module(ENGINES[name]))


__all__ = ["ENGINES", "DataEngine", "data_engine"]
