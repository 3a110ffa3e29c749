"""Text quality: the word-embedding network and the champion against TF-IDF + logistic
regression, on several group splits of the review snippets (every review of a movie in one
split), in one run.

    .venv/bin/trainflow example-data reviews
    .venv/bin/python benchmarks/text_quality.py                 # 5 group splits
    .venv/bin/python benchmarks/text_quality.py --splits 3 --params my_params.yaml

Each split is the pipeline's own (ingest, clean, group split with the split seed changed); each
family is fitted as its train stage fits it, the champion chosen on validation as the select
stage does. scikit-learn's TfidfVectorizer + LogisticRegression (its defaults, word unigrams)
runs on the same splits as the outside anchor. Test metrics only report; the table shows each
split and the mean, and the paired difference champion - baseline with its spread, because
one split of 2,600 test reviews moves accuracy by about +-0.008 (binomial standard error).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def sklearn_anchor(params, train, test) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    (column,) = params.data.text_features
    vectorizer = TfidfVectorizer()
    model = LogisticRegression(max_iter=2000)
    model.fit(vectorizer.fit_transform(train[column]), train[params.data.target].astype(str))
    positive = list(model.classes_).index(params.data.positive_label)
    return model.predict_proba(vectorizer.transform(test[column]))[:, positive]


def main() -> None:
    from quality import metrics_of, seeded_splits, trainflow_models

    from trainflow.params import load_params

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=ROOT / "examples/text-reviews/params.yaml")
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args()
    params = load_params(args.params)
    if params.data.task_type != "binary" or len(params.data.text_features) != 1:
        sys.exit("benchmarks/text_quality.py: a binary task on one text column (the reviews)")
    rows: dict[str, list[dict]] = {}
    started = time.perf_counter()
    for seed, train, val, test in seeded_splits(params, range(args.splits)):
        fitted, selection = trainflow_models(params, train, val, test, params.seed)
        truth = (test[params.data.target].astype(str) == params.data.positive_label).to_numpy()
        labels = params.data.labels
        scored = {name: scores for name, (_, scores, _) in fitted.items()}
        scored["scikit-learn TF-IDF + logistic regression"] = sklearn_anchor(params, train, test)
        for name, scores in scored.items():
            m = metrics_of("binary", scores, truth.astype(np.float32), labels)
            rows.setdefault(name, []).append(m)
        accuracies = ", ".join(f"{n} {rows[n][-1]['accuracy']:.4f}" for n in rows)
        print(f"split {seed}: {len(train)}/{len(val)}/{len(test)} rows, champion "
              f"{selection['champion']} {selection['weights'] or ''}: {accuracies}",
              flush=True)  # fmt: skip
    print(f"\n{args.splits} group splits in {time.perf_counter() - started:.0f} s "
          f"(test accuracy / AUROC, mean +- sd over splits)\n")  # fmt: skip
    print("| model | accuracy | auroc |\n|---|---|---|")
    for name, ms in rows.items():
        acc = [m["accuracy"] for m in ms]
        auc = [m["auroc"] for m in ms]
        print(f"| {name} | {statistics.mean(acc):.4f} +- {statistics.pstdev(acc):.4f} "
              f"| {statistics.mean(auc):.4f} +- {statistics.pstdev(auc):.4f} |")  # fmt: skip
    for name in ("champion", "mlp"):
        diff = [a["accuracy"] - b["accuracy"] for a, b in zip(rows[name], rows["linear"],
                                                               strict=True)]  # fmt: skip
        wins = sum(d > 0 for d in diff)
        print(
            f"\n{name} - linear (TF-IDF baseline), paired: accuracy {statistics.mean(diff):+.4f}"
            f" (sd {statistics.pstdev(diff):.4f}; ahead on {wins} of {len(diff)} splits)"
        )
    from trainflow.figures.record import script_command, write_result

    write_result("text_quality", {
        "splits": args.splits, "seconds": round(time.perf_counter() - started, 1),
        "rows": {name: [{k: round(float(v), 6) for k, v in m.items()
                         if k in ("accuracy", "auroc")} for m in ms]
                 for name, ms in rows.items()},
    }, script_command(sys.argv, ROOT), ROOT)  # fmt: skip


if __name__ == "__main__":
    main()
