"""Training past memory: one epoch of the MLP family (params.yaml's settings, max_epochs 1) over
a train split of 1e6 .. 1e8 rows, streamed from Parquet (`train.data: stream`) and, where it
fits, held in memory; with peak memory and two anchors measured in the same run: reading and
preprocessing the split's pieces alone (the stream's input cost), and the in-memory path (both
at the sizes up to --memory-rows).

    .venv/bin/python benchmarks/train_stream.py --rows 1000000 10000000 100000000 \\
        --memory-rows 10000000

The split: Adult's prepared train rows (data/split/train.parquet: run `make repro` first) drawn
with replacement, each made a distinct record by a fresh fnlwgt, written in row groups of 2^20
rows as the Spark engine writes them; validation is Adult's own val split. Each measurement runs
in a child process: wall time, and the peak of the process tree's summed RSS sampled every
0.1 s. The preprocessor is fitted from the streamed split (column by column) and timed apart.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from data_path import MEASURE  # noqa: E402  (the same child-process measurement)

GROUP_ROWS = 2**20


def build_split(path: Path, rows: int, seed: int = 0) -> None:
    """`rows` of Adult's prepared train split drawn with replacement, in row groups of 2^20."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.read_table(ROOT / "data/split/train.parquet")
    rng = np.random.default_rng(seed)
    fnlwgt = source.schema.field("fnlwgt")
    with pq.ParquetWriter(path, source.schema) as writer:
        for start in range(0, rows, GROUP_ROWS):
            n = min(GROUP_ROWS, rows - start)
            group = source.take(rng.integers(0, source.num_rows, n))
            weights = pa.array(rng.integers(10_000, 1_500_000, n), type=fnlwgt.type)
            group = group.set_column(group.schema.get_field_index("fnlwgt"), fnlwgt, weights)
            writer.write_table(group, row_group_size=GROUP_ROWS)


def child(task: str, train: str, out: str, data: str = "stream") -> None:
    """Run in the measured child process: `fit` the preprocessor (written to `out`), `read`
    the pieces into tensors, or `epoch`: one epoch of the MLP."""
    from trainflow.families.base import FitContext
    from trainflow.model.preprocess import Preprocessor, fit_preprocessor
    from trainflow.model.splits import FrameSplit, ParquetSplit
    from trainflow.model.stream import StreamReader
    from trainflow.params import load_params

    params = load_params(ROOT / "params.yaml")
    categorical = params.data.categorical_features
    split = ParquetSplit(Path(train), categorical)
    if task == "fit":
        fit_preprocessor(split, params.data, params.train.preprocess).save(Path(out))
        return
    pre = Preprocessor.load(Path(out))
    if task == "read":
        reader = StreamReader(split, pre)
        rows = sum(len(reader.load([p]).y) for p in split.pieces())
        assert rows == split.rows
        return
    from trainflow.families import mlp
    from trainflow.io import read_parquet

    val = ParquetSplit(ROOT / "data/split/val.parquet", categorical)
    if data == "memory":
        split, val = FrameSplit(read_parquet(Path(train))), FrameSplit(val.frame())
    settings = params.families.mlp.model_copy(update={"max_epochs": 1})
    folder = Path(out).parent / f"run-{data}"
    ctx = FitContext(seed=0, trainer=params.train.model_copy(update={"accelerator": "cpu"}),
                     resume_dir=folder / "resume", live_dir=folder / "live")  # fmt: skip
    fitted = mlp.fit(split, val, pre, settings, ctx)
    print(json.dumps(fitted.summary), file=sys.stderr)


def measured(task: str, train: Path, out: Path, data: str = "stream") -> dict:
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import train_stream; train_stream.child({task!r}, {str(train)!r}, {str(out)!r}, "
            f"{data!r})")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", MEASURE, code], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"{task} {data} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] not in (0, None):
        raise SystemExit(f"{task} {data} exited {result['code']}:\n{done.stderr[-3000:]}")
    return result


def run_size(rows: int, scratch: Path, memory_rows: int) -> list[dict]:
    train, pre = scratch / f"train_{rows}.parquet", scratch / "preprocessor.json"
    started = time.perf_counter()
    build_split(train, rows)
    print(f"  {rows:,}: split built in {time.perf_counter() - started:.0f} s "
          f"({train.stat().st_size / 2**20:,.0f} MB)", file=sys.stderr, flush=True)  # fmt: skip
    steps = [("fit the preprocessor (column by column)", "fit", "stream"),
             ("one epoch, streamed", "epoch", "stream")]  # fmt: skip
    if rows <= memory_rows:  # the anchors, at the sizes memory holds
        steps += [("anchor: read + preprocess the pieces alone", "read", "stream"),
                  ("anchor: one epoch, in memory", "epoch", "memory")]  # fmt: skip
    results = []
    for label, task, data in steps:
        r = measured(task, train, pre, data)
        results.append({"rows": rows, "step": label, **r})
        print(f"  {rows:,} {label}: {r['seconds']:.1f} s, {r['rss_mb']:,.0f} MB",
              file=sys.stderr, flush=True)  # fmt: skip
    train.unlink()
    return results


def report(results: list[dict]) -> str:
    out = ["| train rows | step | seconds | rows/s | peak memory (MB) |",
           "|---:|---|---:|---:|---:|"]  # fmt: skip
    for r in results:
        out.append(f"| {r['rows']:,} | {r['step']} | {r['seconds']:.1f} | "
                   f"{r['rows'] / r['seconds']:,.0f} | {r['rss_mb']:,.0f} |")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--memory-rows", type=int, default=10_000_000,
                        help="largest split also trained in memory")  # fmt: skip
    parser.add_argument("--scratch", type=Path, default=None, help="folder for the splits")
    args = parser.parse_args()
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="trainflow-train-", dir=args.scratch) as tmp:
        for rows in args.rows:
            results += run_size(rows, Path(tmp), args.memory_rows)
    print(report(results))
    from trainflow.figures.record import script_command, write_result

    write_result("train_stream", {"steps": results}, script_command(sys.argv, ROOT), ROOT)


if __name__ == "__main__":
    main()
