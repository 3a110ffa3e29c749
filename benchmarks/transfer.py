"""Transfer learning: the CNN on scikit-learn's 8x8 digits trained from scratch against the
same network started from the MNIST example's bundle (train.init_from), as the labelled set
shrinks, in one run.

    .venv/bin/trainflow example-data digits8
    # the MNIST example's bundle, e.g. dvc artifacts get / dvc get ... -o models/init/digits.bento
    .venv/bin/python benchmarks/transfer.py --sizes 50 100 200 0      # 0: the whole train split

One split (the pipeline's own: ingest of the PNG folders, cleaning, stratified split); for
each size a seeded sample of the train split, the val and test splits whole. Both arms train
the `mlp` family exactly as its train stage does (early stopping on val), from fresh weights
or from the bundle's `mlp` weights; the logistic baseline on the same rows is the anchor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from quality import seeded_splits

    from trainflow.evaluation.selection import val_metrics
    from trainflow.families import family_module
    from trainflow.families.base import FitContext
    from trainflow.model.preprocess import fit_preprocessor
    from trainflow.model.training import quiet_lightning
    from trainflow.params import load_params

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path,
                        default=ROOT / "examples/images-digits8/params.yaml")  # fmt: skip
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 0])
    args = parser.parse_args()
    params = load_params(args.params)
    if params.train.init_from is None or not params.train.init_from.path.exists():
        sys.exit("benchmarks/transfer.py: train.init_from.path must name a fetched bundle")
    quiet_lightning()
    _, *split = next(seeded_splits(params, [params.seed]))
    parts = dict(zip(("train", "val", "test"), split, strict=True))
    labels = params.data.labels
    test = parts["test"]
    truth = np.array([labels.index(v) for v in test[params.data.target].astype(str)])
    scratch = params.train.model_copy(update={"init_from": None})
    arms = {"scratch": scratch, "from MNIST": params.train}
    print(f"train {len(parts['train'])}, val {len(parts['val'])}, test {len(test)} images; "
          f"init_from {params.train.init_from.path}\n")  # fmt: skip
    print("| train images | linear | CNN from scratch | CNN from MNIST | epochs "
          "(scratch / MNIST) |")  # fmt: skip
    print("|---|---|---|---|---|")
    started = time.perf_counter()
    for size in args.sizes:
        train = parts["train"]
        if size and size < len(train):
            train = train.sample(n=size, random_state=params.seed).sort_index()
        pre = fit_preprocessor(train, params.data, params.train.preprocess)
        row, epochs = {}, []
        with tempfile.TemporaryDirectory() as tmp:
            for name, trainer in {"linear": scratch, **arms}.items():
                family = "linear" if name == "linear" else "mlp"
                ctx = FitContext(seed=params.seed, trainer=trainer,
                                 resume_dir=Path(tmp) / name / "r",
                                 live_dir=Path(tmp) / name / "live")  # fmt: skip
                settings = getattr(params.families, family)
                fitted = family_module(family).fit(train, parts["val"], pre, settings, ctx)
                row[name] = val_metrics("multiclass", fitted.scores(test), truth,
                                        labels)["accuracy"]  # fmt: skip
                if family == "mlp":
                    epochs.append(str(fitted.summary["epochs_run"]))
        print(f"| {len(train)} | {row['linear']:.4f} | {row['scratch']:.4f} | "
              f"{row['from MNIST']:.4f} | {' / '.join(epochs)} |", flush=True)  # fmt: skip
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
