"""train@<family>: fit the preprocessor on the train split and one model family (params.yaml
`families.<family>`) with early stopping on val; write its folder to models/families/<family>/.
A killed neural run resumes from models/resume/<family>/."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path

import trainflow.families as families_pkg
import trainflow.model as model_pkg
from trainflow import numerics, paths
from trainflow.errors import StageError
from trainflow.families import FAMILIES, family_module, save_fitted
from trainflow.families.base import FitContext
from trainflow.io import atomic_dir, read_parquet, run_fingerprint, sha256_of_tree, write_json
from trainflow.model.preprocess import fit_preprocessor
from trainflow.model.splits import FrameSplit, ParquetSplit, Split
from trainflow.params import Params, load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.train")


def code_bytes() -> list[bytes]:
    """The training code a run depends on (for resuming only the same run)."""
    files = [*Path(model_pkg.__file__).parent.glob("*.py"),
             *Path(families_pkg.__file__).parent.glob("*.py")]  # fmt: skip
    return [p.read_bytes() for p in sorted(files)]


def init_bytes(init_from) -> list[bytes]:
    """The weights a run starts from (train.init_from): a run from other weights is another
    run, never resumed as this one."""
    if init_from is None or not init_from.path.exists():
        return []
    from trainflow.model.transfer import content_sha256

    return [content_sha256(init_from.path).encode()]


def read_split(path: Path, params: Params) -> Split:
    """The split whole in memory, or (train.data: stream) read piece by piece while training
    runs (trainflow.model.splits)."""
    if params.train.data == "stream":
        return ParquetSplit(path, params.data.categorical_features)
    return FrameSplit(read_parquet(path))


def train_family(name: str) -> None:
    params = load_params()
    settings = getattr(params.families, name, None) if name in FAMILIES else None
    if settings is None:
        raise StageError(f"train: no family {name!r} under params.yaml families "
                         f"(configured: {params.families.names})")  # fmt: skip
    train, val = (read_split(paths.split_table(name), params) for name in ("train", "val"))
    pre = fit_preprocessor(train, params.data, params.train.preprocess)
    fingerprint = run_fingerprint([
        json.dumps([name, params.seed,
                    *(s.model_dump(mode="json") for s in (params.data, params.train, settings))],
                   ).encode(),
        # a file, or a dataset of parts (the Spark engine's)
        sha256_of_tree(paths.split_table("train")).encode(),
        sha256_of_tree(paths.split_table("val")).encode(),
        *code_bytes(), *init_bytes(params.train.init_from),
    ])  # fmt: skip
    ctx = FitContext(seed=params.seed, trainer=params.train, resume_dir=paths.resume_dir(name),
                     live_dir=paths.live_dir(name), fingerprint=fingerprint)  # fmt: skip
    family = family_module(name)  # its libraries' import is not fit time
    started = time.perf_counter()
    fitted = family.fit(train, val, pre, settings, ctx)
    if fitted is None:  # another process of a DDP run: it trained its share; the primary writes
        return
    seconds = time.perf_counter() - started
    with atomic_dir(paths.family_dir(name)) as out:
        save_fitted(fitted, out, params.data)
    # the machine and the pinned numerics beside the time (a timing file: never compared):
    # verify shows the recording machine next to its own
    write_json(paths.fit_speed(name), {"family": name, "fit_seconds": round(seconds, 3),
                                       "machine": numerics.record()})  # fmt: skip
    shutil.rmtree(paths.resume_dir(name), ignore_errors=True)  # finished: nothing to resume
    log.info("trained %s in %.1f s: %s", name, seconds, fitted.summary)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise StageError(f"usage: python -m trainflow.stages.train FAMILY (one of {FAMILIES})")
    train_family(args[0])


if __name__ == "__main__":
    run_stage("train", main)
