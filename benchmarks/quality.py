"""Model quality: every trainflow family, the champion chosen on validation, and the
gradient-boosted-tree libraries with their default settings, on the same split in one run.

    .venv/bin/python benchmarks/quality.py                        # after `dvc repro split`
    .venv/bin/python benchmarks/quality.py --shared-feature-rows allow --seeds 3
    .venv/bin/pip install -r benchmarks/requirements.txt           # adds XGBoost and CatBoost

trainflow's side runs each family's own `fit` exactly as its train stage does (params.yaml
`families`), then the select stage's `choose` (validation only) for the champion. The reference
side fits scikit-learn's HistGradientBoosting with defaults, and LightGBM, XGBoost and CatBoost
with defaults plus early stopping on the validation split (each library's own), on the same
cleaned features (categoricals as categoricals). Test metrics only report. With --seeds N,
every model is fitted N times (seeds 0..N-1) and the table shows means. With
--shared-feature-rows, the split is redone from data/prepared with that setting of the leakage
gate (what split.shared_feature_rows decides).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"champion": {"accuracy": 0.873, "auroc": 0.928},
         "best neural family": {"accuracy": 0.870, "auroc": 0.925}}  # fmt: skip
NEURAL = ("mlp", "resnet")


def splits(params, shared: str | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """data/split as the pipeline wrote it, or redone from data/prepared as the split stage
    does with split.shared_feature_rows = `shared`."""
    from trainflow.data.columnar import row_hashes
    from trainflow.data.leakage import select, without_shared_feature_rows
    from trainflow.data.split import at_positions, split_positions, take_splits
    from trainflow.io import read_parquet

    if shared is None:
        folder = ROOT / "data/split"
        if not (folder / "train.parquet").exists():
            sys.exit("data/split/train.parquet missing: run `dvc repro split` first")
        return tuple(read_parquet(folder / f"{n}.parquet") for n in ("train", "val", "test"))
    clean = read_parquet(ROOT / "data/prepared/clean.parquet")
    split = params.split.model_copy(update={"shared_feature_rows": shared})
    positions = split_positions(clean, params.data, split, params.seed)
    if shared == "drop_from_train":
        features = at_positions(row_hashes(clean, params.data.features), positions)
        keep, _ = without_shared_feature_rows(features)
        positions = select(positions, keep)
    parts = take_splits(clean, positions)
    return parts["train"], parts["val"], parts["test"]


def seeded_splits(params, seeds):
    """The cleaned table of the configured source, split by the pipeline's own split once per
    split seed: yields (seed, train, val, test). The text, image and transfer benchmarks use it."""
    from trainflow.data.clean import clean_table
    from trainflow.data.sources import read_source
    from trainflow.data.split import split_positions, take_splits

    raw = read_source(params.ingest)
    clean, _ = clean_table(raw, params.data, list(params.data.record_keep), "benchmark")
    for seed in seeds:
        parts = take_splits(clean, split_positions(clean, params.data, params.split, seed))
        yield seed, parts["train"], parts["val"], parts["test"]


def metrics_of(task: str, scores: np.ndarray, truth: np.ndarray, labels: list[str]) -> dict:
    from trainflow.evaluation.selection import val_metrics

    return val_metrics(task, np.asarray(scores, dtype=np.float64), truth, labels)


def trainflow_models(params, train, val, test, seed: int) -> tuple[dict, dict]:
    """{name: (val scores, test scores, fit seconds)} for every family and the champion; and
    the selection."""
    from trainflow.evaluation.selection import choose
    from trainflow.families import family_module
    from trainflow.families.base import FitContext
    from trainflow.model.preprocess import fit_preprocessor
    from trainflow.model.training import quiet_lightning

    quiet_lightning()
    pre = fit_preprocessor(train, params.data, params.train.preprocess)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in params.families.names:
            ctx = FitContext(seed=seed, trainer=params.train, resume_dir=Path(tmp) / name / "r",
                             live_dir=Path(tmp) / name / "live")  # fmt: skip
            start = time.perf_counter()
            fitted = family_module(name).fit(train, val, pre, getattr(params.families, name), ctx)
            seconds = time.perf_counter() - start
            out[name] = (fitted.scores(val), fitted.scores(test), seconds)
    truth = pre.encode_target(val[params.data.target])
    if params.data.task_type == "regression":
        truth = val[params.data.target].to_numpy(dtype=np.float64)
    names = params.select.candidates
    selection = choose(params.data.task_type, params.selection_metric,
                       {n: out[n][0] for n in names}, truth, params.data.labels,
                       params.select.ensemble, params.select.ensemble_rounds)  # fmt: skip
    weights = selection.weights or {selection.champion: 1.0}
    val_scores, test_scores = (sum(w * out[n][i] for n, w in weights.items()) for i in (0, 1))
    out["champion"] = (val_scores, test_scores, sum(out[n][2] for n in names))
    return out, {"champion": selection.champion, "weights": selection.weights}


def categorical_frames(params, *frames: pd.DataFrame) -> list[pd.DataFrame]:
    """The features with categoricals as pandas categoricals over the train split's values."""
    data = params.data
    cats = {c: sorted(frames[0][c].dropna().astype(str).unique()) for c in
            data.categorical_features}  # fmt: skip
    out = []
    for frame in frames:
        x = frame[data.features].copy()
        for c in data.categorical_features:
            x[c] = pd.Categorical(x[c].astype(str).where(x[c].notna()), categories=cats[c])
        out.append(x)
    return out


def reference_models(params, train, val, test, seed: int) -> dict:
    """The GBDT libraries with default settings (early stopping on val where the library
    offers it): {name: (val scores, test scores, fit seconds)}; libraries not installed are
    left out."""
    data = params.data
    task = data.task_type
    x_tr, x_va, x_te = categorical_frames(params, train, val, test)
    labels = {label: i for i, label in enumerate(data.labels)}

    def target(frame: pd.DataFrame) -> np.ndarray:
        y = frame[data.target]
        return y.to_numpy(np.float64) if task == "regression" else \
            y.astype(str).map(labels).to_numpy()  # fmt: skip

    y_tr, y_va = target(train), target(val)

    def scores(model, x: pd.DataFrame) -> np.ndarray:
        if task == "regression":
            return model.predict(x)
        probs = model.predict_proba(x)
        return probs[:, 1] if task == "binary" else probs

    fits = {}

    def hgb():
        from sklearn.ensemble import (
            HistGradientBoostingClassifier as C,
        )
        from sklearn.ensemble import (
            HistGradientBoostingRegressor as R,
        )

        return (R if task == "regression" else C)(categorical_features="from_dtype",
                                                   random_state=seed).fit(x_tr, y_tr)  # fmt: skip

    fits["scikit-learn HistGradientBoosting, defaults"] = hgb

    def lightgbm():
        import lightgbm as lgb

        cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
        model = cls(n_estimators=10000, random_state=seed, verbose=-1)
        return model.fit(x_tr, y_tr, eval_set=[(x_va, y_va)],
                         callbacks=[lgb.early_stopping(100, verbose=False)])  # fmt: skip

    fits["LightGBM, early stopping on val"] = lightgbm

    def xgboost():
        import xgboost as xgb

        cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
        model = cls(n_estimators=10000, enable_categorical=True, tree_method="hist",
                    early_stopping_rounds=100, random_state=seed)  # fmt: skip
        return model.fit(x_tr, y_tr, eval_set=[(x_va, y_va)], verbose=False)

    fits["XGBoost, early stopping on val"] = xgboost

    def catboost():
        import catboost as cb

        def strings(x: pd.DataFrame) -> pd.DataFrame:
            x = x.copy()
            for c in data.categorical_features:  # CatBoost refuses NaN in categoricals
                x[c] = x[c].astype(object).where(x[c].notna(), "(missing)").astype(str)
            return x

        cls = cb.CatBoostRegressor if task == "regression" else cb.CatBoostClassifier
        model = cls(iterations=10000, od_type="Iter", od_wait=100, random_seed=seed, verbose=0,
                    cat_features=data.categorical_features, thread_count=-1,
                    allow_writing_files=False)  # fmt: skip
        model.fit(strings(x_tr), y_tr, eval_set=(strings(x_va), y_va), use_best_model=True)

        class Wrapped:
            def predict(self, x):
                return model.predict(strings(x))

            def predict_proba(self, x):
                return model.predict_proba(strings(x))

        return Wrapped()

    fits["CatBoost, early stopping on val"] = catboost
    out = {}
    for name, fit in fits.items():
        try:
            start = time.perf_counter()
            model = fit()
            seconds = time.perf_counter() - start
        except ImportError:
            print(f"({name}: not installed; pip install -r benchmarks/requirements.txt)")
            continue
        out[name] = (scores(model, x_va), scores(model, x_te), seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="fits per model (seeds 0..N-1)")
    parser.add_argument(
        "--shared-feature-rows",
        choices=["drop_from_train", "fail", "allow"],
        help="redo the split from data/prepared with this leakage setting",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    warnings.filterwarnings("ignore")
    from trainflow.evaluation.metrics import HEADLINE
    from trainflow.model.preprocess import fit_preprocessor
    from trainflow.params import load_params

    params = load_params(ROOT / "params.yaml")
    task, labels = params.data.task_type, params.data.labels
    train, val, test = splits(params, args.shared_feature_rows)
    pre = fit_preprocessor(train, params.data, params.train.preprocess)
    if task == "regression":
        truths = [f[params.data.target].to_numpy(np.float64) for f in (val, test)]
    else:
        truths = [pre.encode_target(f[params.data.target]) for f in (val, test)]
    select_metric = params.selection_metric
    shown = [m for m in (HEADLINE[task][0], "auroc" if task == "binary" else HEADLINE[task][-1])]
    setting = args.shared_feature_rows or params.split.shared_feature_rows
    print(f"{task}: train {len(train):,}, val {len(val):,}, test {len(test):,} rows; "
          f"split.shared_feature_rows {setting}; {args.seeds} seed(s)")  # fmt: skip
    runs: dict[str, list[dict]] = {}
    champions = []
    for seed in range(args.seeds):
        ours, selection = trainflow_models(params, train, val, test, seed)
        champions.append(selection)
        theirs = reference_models(params, train, val, test, seed)
        named = {f"trainflow {n}": v for n, v in ours.items() if n != "champion"}
        named["trainflow champion"] = ours["champion"]
        for name, (val_scores, test_scores, seconds) in (named | theirs).items():
            row = {f"val {select_metric}": metrics_of(task, val_scores, truths[0],
                                                      labels)[select_metric]}  # fmt: skip
            row |= {f"test {m}": metrics_of(task, test_scores, truths[1], labels)[m]
                    for m in shown}  # fmt: skip
            runs.setdefault(name, []).append(row | {"fit s": seconds})
    columns = list(next(iter(runs.values()))[0])
    print(f"\n| model, same split | {' | '.join(columns)} |\n|---|{'---|' * len(columns)}")
    means = {name: {c: statistics.mean(r[c] for r in rows) for c in columns}
             for name, rows in runs.items()}  # fmt: skip
    for name, row in means.items():
        cells = [f"{row[c]:.1f}" if c == "fit s" else f"{row[c]:.4f}" for c in columns]
        print(f"| {name} | {' | '.join(cells)} |")
    print(f"\nchampion per seed: {champions}")
    if params.ingest.source.kind == "adult_wheel":
        from trainflow.figures.record import script_command, write_result

        # the committed setting's run is `quality`; another setting's, quality_<setting>
        name = "quality" if setting == params.split.shared_feature_rows else f"quality_{setting}"

        rows = [{"model": name, "val_log_loss": round(row[f"val {select_metric}"], 6),
                 "test_accuracy": round(row["test accuracy"], 6),
                 "test_auroc": round(row["test auroc"], 6), "fit_s": round(row["fit s"], 2)}
                for name, row in means.items()]  # fmt: skip
        write_result(name, {"seeds": args.seeds, "rows": rows, "champions": champions,
                            "train_rows": len(train), "test_rows": len(test),
                            "shared_feature_rows": setting},
                     script_command(sys.argv, ROOT), ROOT)  # fmt: skip
    hgb = means.get("scikit-learn HistGradientBoosting, defaults")
    if task != "regression" and hgb:
        gap = 100 * (means["trainflow champion"]["test accuracy"] - hgb["test accuracy"])
        verdict = "within" if gap >= -0.5 else "NOT within"
        print(f"champion - default HistGradientBoosting: {gap:+.2f} accuracy points "
              f"({verdict} the 0.5-point goal)")  # fmt: skip
    if task != "binary" or params.ingest.source.kind != "adult_wheel":
        return  # the goals below are Adult's
    neural = max((n for n in means if n.split()[-1] in NEURAL),
                 key=lambda n: means[n]["test accuracy"], default=None)  # fmt: skip
    for goal, name in (("champion", "trainflow champion"), ("best neural family", neural)):
        if name is None:
            continue
        values = {m: means[name][f"test {m}"] for m in GOALS[goal]}
        met = [f"{m} {values[m]:.4f} {'>=' if values[m] >= v else '<'} {v}"
               for m, v in GOALS[goal].items()]  # fmt: skip
        ok = all(means[name][f"test {m}"] >= v for m, v in GOALS[goal].items())
        print(f"goal, {goal} ({name}): {', '.join(met)}: {'MET' if ok else 'NOT MET'}")


if __name__ == "__main__":
    main()
