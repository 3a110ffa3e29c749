"""The pipeline's own times on the full data, in one fresh clone of HEAD: `make repro` from
nothing (venv from the lock, data fetch, every stage), a second `dvc repro` (nothing reruns),
and `dvc repro --force` alternating between trainflow's portable numerics (the default: the
same bytes on any x86-64 CPU with AVX2) and TRAINFLOW_NUMERICS=native (each library's fastest
path for this CPU), with a plain PyTorch loop's samples/s as this machine's anchor.

    .venv/bin/python benchmarks/pipeline.py --runs 3

Writes benchmarks/results/pipeline.json (goal: portable <= 1.10x native).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("linear", "mlp", "resnet", "gbdt")


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return round(time.perf_counter() - start, 1)


def fit_seconds(repo: Path) -> dict[str, float]:
    return {f: json.loads((repo / f"metrics/speed/train_{f}.json").read_text())["fit_seconds"]
            for f in FAMILIES}  # fmt: skip


def anchor_samples_per_s(seconds: float = 10.0) -> float:
    """A plain PyTorch loop (2-layer MLP, 30 inputs, batch 512, AdamW) on random data: how
    fast this machine is while the benchmark runs."""
    import torch

    torch.manual_seed(0)
    x, y = torch.randn(100_000, 30), torch.randint(0, 2, (100_000,)).float()
    net = torch.nn.Sequential(torch.nn.Linear(30, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, fused=True)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(0, len(x), 512):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(x[i : i + 512]).squeeze(1), y[i : i + 512]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        done += len(x)
    return round(done / (time.perf_counter() - start))


def main() -> None:
    from trainflow.figures.record import script_command, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="dvc repro --force runs of each")
    parser.add_argument("--scratch", type=Path, help="where to clone (default: a temp dir)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="trainflow-pipeline-", dir=args.scratch))
    repo = scratch / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    from trainflow.numerics import unpinned_environ

    # not this process's pinned numerics: the native runs must choose for themselves
    base = {k: v for k, v in unpinned_environ().items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    base |= {"CI": "true", "PATH": os.pathsep.join(p for p in base["PATH"].split(os.pathsep)
                                                    if ".venv" not in p)}  # fmt: skip
    make_repro = timed(["make", "repro"], repo, base)  # a venv of its own, from the lock
    print(f"make repro in a fresh clone: {make_repro} s", flush=True)
    env = {**base, "PATH": f"{repo / '.venv/bin'}{os.pathsep}{base['PATH']}",
           "BENTOML_HOME": str(repo / ".bentoml"), "DVC_NO_ANALYTICS": "1"}  # fmt: skip
    noop = timed(["dvc", "repro"], repo, env)
    runs: dict[str, list[float]] = {"portable": [], "native": []}
    fits: dict[str, list[dict[str, float]]] = {"portable": [], "native": []}
    for i in range(args.runs):
        for mode in runs:
            runs[mode].append(timed(["dvc", "repro", "--force"], repo,
                                    {**env, "TRAINFLOW_NUMERICS": mode}))  # fmt: skip
            fits[mode].append(fit_seconds(repo))
            print(f"run {i + 1} {mode:8s} {runs[mode][-1]} s {fits[mode][-1]}", flush=True)
    anchor = anchor_samples_per_s()
    medians = {mode: statistics.median(values) for mode, values in runs.items()}
    ratio = round(medians["portable"] / medians["native"], 3)
    print(
        f"median dvc repro --force: portable {medians['portable']} s, native "
        f"{medians['native']} s: {ratio}x (goal <= 1.10x); anchor {anchor:,} samples/s"
    )
    figures = {
        "make_repro_s": make_repro, "noop_s": noop, "anchor_samples_per_s": anchor,
        **{mode: {"runs_s": runs[mode], "median_s": medians[mode], "fit_s": fits[mode]}
           for mode in runs},
        "portable_over_native": ratio,
    }  # fmt: skip
    write_result("pipeline", figures, script_command(sys.argv, ROOT), ROOT)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
