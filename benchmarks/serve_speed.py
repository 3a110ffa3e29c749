"""Serving speed: the built bundle under `bentoml serve`, with and without adaptive batching,
driven from this (separate) process by 1, 8 and 32 concurrent closed-loop clients.

    .venv/bin/python benchmarks/serve_speed.py                  # after `dvc repro package`
    .venv/bin/python benchmarks/serve_speed.py --seconds 20 --clients 1 8 32 64

Each client posts one raw test record per request to /predict (the online case: a request per
user event) and sends the next as soon as the answer arrives. The same bundle is served twice:
package.batching on (BentoML joins concurrent requests into one model call) and off. A third
row per client count is the batched server's /metadata (no model, no cleaning): what BentoML's
HTTP path alone costs on this machine, measured in the same run, so the model rows can be read
against the framework's own floor. Figures: answered requests per second, p50 and p99 latency
(ms) as the client sees it, and requests that did not get a 200.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from trainflow import paths
from trainflow.loadtest import Call, LoadResult, run_load, serve_bundle
from trainflow.params import load_params
from trainflow.serving.predictor import json_records

ROOT = Path(__file__).resolve().parents[1]


def measure(url: str, calls: list[Call], clients: list[int], seconds: float) -> list[LoadResult]:
    run_load(url, calls, max(clients), min(seconds, 3))  # warm-up: batching's own calibration
    return [run_load(url, calls, n, seconds, seed=n) for n in clients]


def interleaved(
    url: str, predict: list[Call], floor: list[Call], clients: int, rounds: int, seconds: float
) -> tuple[LoadResult, LoadResult]:
    """/predict and the floor in alternating rounds on the same server, each pooled over its
    rounds: a change of the VM's speed during the run (±40 % within an hour here) then weighs
    on both alike instead of on whichever ran in the slow minute."""
    pooled = (LoadResult(clients, 0.0), LoadResult(clients, 0.0))
    for i in range(rounds):
        for calls, total in ((predict, pooled[0]), (floor, pooled[1]))[:: 1 if i % 2 else -1]:
            r = run_load(url, calls, clients, seconds, seed=i)
            total.seconds += r.seconds
            total.latencies_ms.extend(r.latencies_ms)
            total.wrong.update(r.wrong)
    return pooled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / paths.BUNDLE_DIR)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=10.0, help="per client count")
    parser.add_argument("--records", type=int, default=1, help="records per request")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved goal rounds (0: off)")
    args = parser.parse_args()
    if not (args.bundle / paths.BUNDLE_ARCHIVE_NAME).exists():
        sys.exit(f"{args.bundle / paths.BUNDLE_ARCHIVE_NAME}: missing; run `dvc repro package`")
    data = load_params(ROOT / "params.yaml").data
    test = pd.read_parquet(ROOT / paths.split_table("test"))
    records = json_records(test.sample(n=min(2000, len(test)), random_state=0), data)
    k = args.records
    predict = [Call("/predict", {"records": records[i : i + k]})
               for i in range(0, len(records), k)]  # fmt: skip
    rows: dict[str, list[LoadResult]] = {}
    with tempfile.TemporaryDirectory(prefix="trainflow-serve-bench-") as tmp:
        for batching in (False, True):
            with serve_bundle(args.bundle, Path(tmp), batching=batching) as server:
                name = "batched" if batching else "unbatched"
                print(f"{name}: {server.bento_tag} at {server.url}", flush=True)
                rows[f"/predict {name}"] = measure(server.url, predict, args.clients, args.seconds)
                if batching:
                    floor = [Call("/metadata", {})]
                    rows["/metadata (HTTP floor)"] = measure(
                        server.url, floor, args.clients, args.seconds
                    )
                    if args.rounds:
                        goal = interleaved(server.url, predict, floor, max(args.clients),
                                           args.rounds, args.seconds / 2)  # fmt: skip
    print(f"\n{k} record(s) per request, {args.seconds:g} s per row\n")
    print("| endpoint | clients | requests/s | p50 ms | p99 ms | not 200 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, results in rows.items():
        for r in results:
            print(f"| {name} | {r.clients} | {r.throughput:.0f} | {r.percentile(50):.1f} | "
                  f"{r.percentile(99):.1f} | {sum(r.wrong.values())} |")  # fmt: skip
    unbatched, batched = rows["/predict unbatched"], rows["/predict batched"]
    print()
    for u, b in zip(unbatched, batched, strict=True):
        print(f"{u.clients} clients: batched / unbatched throughput "
              f"{b.throughput / u.throughput:.1f}x")  # fmt: skip
    if args.rounds:
        b, f = goal
        ratio, p99 = b.throughput / f.throughput, b.percentile(99) / f.percentile(99)
        met = "met" if ratio >= 0.9 and p99 <= 1.2 else "NOT met"
        print(
            f"\ngoal at {b.clients} clients, {args.rounds} interleaved rounds of "
            f"{args.seconds / 2:g} s each: /predict batched {b.throughput:.0f}/s, p99 "
            f"{b.percentile(99):.1f} ms; floor {f.throughput:.0f}/s, p99 {f.percentile(99):.1f} "
            f"ms; throughput {ratio:.2f}x the floor (goal >= 0.9x), p99 {p99:.2f}x the floor's "
            f"(goal <= 1.2x): {met}; not 200: {sum(b.wrong.values()) + sum(f.wrong.values())}"
        )
        from trainflow.figures.record import script_command, write_result

        write_result("serve_speed", {
            "clients": b.clients, "rounds": args.rounds, "round_s": args.seconds / 2,
            "records_per_request": k, "predict_rps": round(b.throughput, 1),
            "predict_p99_ms": round(b.percentile(99), 2), "floor_rps": round(f.throughput, 1),
            "floor_p99_ms": round(f.percentile(99), 2), "throughput_ratio": round(ratio, 3),
            "p99_ratio": round(p99, 3), "not_200": sum(b.wrong.values()) + sum(f.wrong.values()),
            "seconds_per_row": args.seconds,
            "rows": [{"endpoint": name, "clients": r.clients, "rps": round(r.throughput, 1),
                      "p50_ms": round(r.percentile(50), 2), "p99_ms": round(r.percentile(99), 2),
                      "not_200": sum(r.wrong.values())}
                     for name, results in rows.items() for r in results],
        }, script_command(sys.argv, ROOT), ROOT)  # fmt: skip


if __name__ == "__main__":
    main()
