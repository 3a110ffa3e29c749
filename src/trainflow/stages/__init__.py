"""Pipeline stages, one module each, run by dvc.yaml as `python -m trainflow.stages.<name>`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from trainflow import STAGES, numerics
from trainflow.errors import StageError
from trainflow.io import keep_freed_memory, setup_logging

__all__ = ["STAGES", "run_stage"]


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's main; an expected failure prints one line and exits 1."""
    setup_logging()
    keep_freed_memory()
    try:
        numerics.check_torch()
        main()
    except StageError as err:
        logging.getLogger(f"trainflow.{name}").debug("stage failed", exc_info=True)
        print(f"trainflow {name}: error: {err}", file=sys.stderr)
        sys.exit(1)
