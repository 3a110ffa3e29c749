"""The docs pages' generated regions (README's: trainflow.figures.readme)."""

from __future__ import annotations

import statistics

from trainflow.figures import Sources, renderer
from trainflow.figures.readme import seconds, when


def verify_block(sources: Sources, name: str) -> str:
    record = sources.result(name)
    f = record["figures"]
    took = (f"{seconds(f['seconds'])} in all: the clone, the data fetch, every stage, the "
            "comparison" if f["seconds"] is not None else "its time not kept: it was paused "
            "while benchmarks ran")  # fmt: skip
    return (
        f"```console\n$ {f['command']}\n...\n{f['table']}\n```\n\n"
        f"(commit {f['rev']}; {took}; {when(record)}; `benchmarks/results/{name}.json`.)"
    )


@renderer("repro-verify")
def verify(sources: Sources) -> str:
    return verify_block(sources, "verify")


@renderer("repro-verify-emulated")
def verify_emulated(sources: Sources) -> str:
    return verify_block(sources, "verify_emulated")


@renderer("repro-cost")
def cost(sources: Sources) -> str:
    record = sources.result("pipeline")
    f = record["figures"]
    rows = ["| `dvc repro --force`, full data | portable (the default) | native |",
            "|---|---:|---:|"]  # fmt: skip
    rows.append(
        f"| whole pipeline, median of {len(f['portable']['runs_s'])} | "
        f"{seconds(f['portable']['median_s'])} | {seconds(f['native']['median_s'])} |"
    )
    for family in f["portable"]["fit_s"][0]:
        mine, theirs = (statistics.median(run[family] for run in f[mode]["fit_s"])
                        for mode in ("portable", "native"))  # fmt: skip
        rows.append(f"| fit of {family}, median | {mine:.1f} s | {theirs:.1f} s |")
    rows.append(f"| **portable / native** | **{f['portable_over_native']:.2f}×** | |")
    return "\n".join(rows) + f"\n\n({when(record)}; `benchmarks/results/pipeline.json`.)"


@renderer("repro-cpu-paths")
def cpu_paths(sources: Sources) -> str:
    record = sources.result("cpu_paths")
    f = record["figures"]
    rows = ["| path | values that differ, each library's own choice | with trainflow's settings |",
            "|---|---:|---:|"]  # fmt: skip

    def cell(r: dict) -> str:
        return f"{r['differ']:,} of {r['of']:,} (≤ {r['max_ulps']} ulp)" if r["differ"] else "none"

    for name, by_mode in f["ops"].items():
        rows.append(f"| {name} | {cell(by_mode['native'])} | {cell(by_mode['portable'])} |")
    return "\n".join(rows) + (
        f"\n\n(this machine, {f['here']}, against {f['other']}; "
        f"{when(record)}; `benchmarks/results/cpu_paths.json`.)"
    )


@renderer("operations-make-help")
def make_help(sources: Sources) -> str:
    """`make help` as it prints: the Makefile's `target: ... ## text` lines."""
    import re

    text = (sources.root / "Makefile").read_text()
    found = re.findall(r"^([a-z0-9-]+):.*## (.*)$", text, re.M)
    lines = [f"  make {target:10s} {about}" for target, about in found]
    return "```console\n$ make help\n" + "\n".join(lines) + "\n```"


@renderer("operations-test-suite")
def test_suite(sources: Sources) -> str:
    record = sources.result("test_suite")
    f = record["figures"]
    rows = ["| target | tests | time (set-up included) | budget |", "|---|---|---:|---:|"]
    for key, target in (("make_test", "make test"), ("make_test_fast", "make test-fast")):
        r = f[key]
        rows.append(
            f"| `{target}` | {r['summary']} | {seconds(r['seconds'])} | "
            f"{seconds(f['budget_s'][key])} |"
        )
    return "\n".join(rows) + f"\n\n({when(record)}; `benchmarks/results/test_suite.json`.)"
