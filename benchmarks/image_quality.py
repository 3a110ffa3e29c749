"""Image quality: the CNN and the champion against logistic regression on the pixels, on
several stratified splits of the MNIST 5k digits, in one run.

    .venv/bin/trainflow example-data digits
    .venv/bin/python benchmarks/image_quality.py                  # 3 splits
    .venv/bin/python benchmarks/image_quality.py --splits 5 --params my_params.yaml

Each split is the pipeline's own (ingest of the PNG folders, cleaning, stratified split with the
split seed changed); each family is fitted as its train stage fits it, the champion chosen on
validation as the select stage does. scikit-learn's LogisticRegression on the same pixels
(scaled to 0-1, its defaults but max_iter) is the outside anchor. Test metrics only report; one
split of 1,000 test images moves accuracy by about +-0.003 at 0.99 (binomial standard error).
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
    """Class probabilities of scikit-learn's logistic regression on the 0-1 pixels."""
    from sklearn.linear_model import LogisticRegression

    from trainflow.data.images import pixels

    (column,) = params.data.image_features
    shape = params.train.preprocess.image

    def x(frame):
        return pixels(frame[column], shape.size, shape.channels, column).reshape(
            len(frame), -1) / 255.0  # fmt: skip

    model = LogisticRegression(max_iter=1000)
    model.fit(x(train), train[params.data.target].astype(str))
    order = [list(model.classes_).index(label) for label in params.data.labels]
    return model.predict_proba(x(test))[:, order]


def main() -> None:
    from quality import metrics_of, seeded_splits, trainflow_models

    from trainflow.params import load_params

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path,
                        default=ROOT / "examples/images-digits/params.yaml")  # fmt: skip
    parser.add_argument("--splits", type=int, default=3)
    args = parser.parse_args()
    params = load_params(args.params)
    if params.data.task_type != "multiclass" or len(params.data.image_features) != 1:
        sys.exit("benchmarks/image_quality.py: a multiclass task on one image column (digits)")
    labels = params.data.labels
    rows: dict[str, list[dict]] = {}
    seconds: dict[str, list[float]] = {}
    started = time.perf_counter()
    for seed, train, val, test in seeded_splits(params, range(args.splits)):
        fitted, selection = trainflow_models(params, train, val, test, params.seed)
        truth = np.array([labels.index(v) for v in test[params.data.target].astype(str)])
        scored = {name: scores for name, (_, scores, _) in fitted.items()}
        for name, (_, _, fit) in fitted.items():
            seconds.setdefault(name, []).append(fit)
        scored["scikit-learn logistic regression (pixels)"] = sklearn_anchor(params, train, test)
        for name, scores in scored.items():
            rows.setdefault(name, []).append(metrics_of("multiclass", scores, truth, labels))
        accuracies = ", ".join(f"{n} {rows[n][-1]['accuracy']:.4f}" for n in rows)
        print(f"split {seed}: {len(train)}/{len(val)}/{len(test)} rows, champion "
              f"{selection['champion']} {selection['weights'] or ''}: {accuracies}",
              flush=True)  # fmt: skip
    print(f"\n{args.splits} stratified splits in {time.perf_counter() - started:.0f} s "
          f"(test accuracy / macro F1, mean +- sd over splits; fit seconds)\n")  # fmt: skip
    print("| model | accuracy | f1_macro | fit s |\n|---|---|---|---|")
    for name, ms in rows.items():
        acc = [m["accuracy"] for m in ms]
        f1 = [m["f1_macro"] for m in ms]
        fit = f"{statistics.mean(seconds[name]):.0f}" if name in seconds else "-"
        print(f"| {name} | {statistics.mean(acc):.4f} +- {statistics.pstdev(acc):.4f} "
              f"| {statistics.mean(f1):.4f} +- {statistics.pstdev(f1):.4f} | {fit} |")  # fmt: skip
    diff = [a["accuracy"] - b["accuracy"] for a, b in zip(rows["champion"], rows["linear"],
                                                           strict=True)]  # fmt: skip
    print(f"\nchampion - linear (pixel baseline), paired: accuracy {statistics.mean(diff):+.4f} "
          f"(sd {statistics.pstdev(diff):.4f}; ahead on {sum(d > 0 for d in diff)} of "
          f"{len(diff)} splits)")  # fmt: skip
    from trainflow.figures.record import script_command, write_result

    write_result("image_quality", {
        "splits": args.splits, "seconds": round(time.perf_counter() - started, 1),
        "rows": {name: [{k: round(float(v), 6) for k, v in m.items()
                         if k in ("accuracy", "f1_macro")} for m in ms]
                 for name, ms in rows.items()},
        "fit_s": {name: [round(v, 2) for v in fits] for name, fits in seconds.items()},
    }, script_command(sys.argv, ROOT), ROOT)  # fmt: skip


if __name__ == "__main__":
    main()
