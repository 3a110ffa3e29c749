"""What a change does to the model, as a pull request comment (the CML pattern): whether the
pipeline ran, the quality gate's verdict, `dvc metrics diff` and `dvc params diff` against the
base branch as Markdown tables, and every plot whose data changed, rendered to PNG
(vl-convert, offline) into the report's folder, which CI keeps as a workflow artifact: the
comment names the plots and links nowhere else (no image host).

    trainflow report --base origin/main --run-pipeline   # what `make ci-report` runs in CI

`--run-pipeline` runs `dvc pull` (when a remote is configured) and `dvc repro` first and puts
its outcome at the top: a failed run gives a report that says so, with the log's last lines,
and a non-zero exit once the report is written. A plot whose base data cannot be loaded (its
DVC-cached files are in no cache here and no remote) is listed as not compared, never as new.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from trainflow import paths
from trainflow.errors import StageError
from trainflow.tools import dvc, tool

GATE_DETAIL = Path("reports/eval/gate.json")
OUT = Path("reports/ci")


def gate_section(repo: Path) -> tuple[str, bool | None]:
    """The gate's verdict and each criterion, from this revision's evaluate outputs."""
    summary, detail = repo / paths.METRICS_DIR / "gate.json", repo / GATE_DETAIL
    if not summary.exists():
        return "**Quality gate: no record** (evaluate did not run on this revision)", None
    passed = bool(json.loads(summary.read_text())["gate"])
    criteria = json.loads(detail.read_text()) if detail.exists() else []
    met = sum(c["met"] for c in criteria)
    head = f"**Quality gate: {'passed' if passed else 'FAILED'}** ({met} of {len(criteria)} met)"
    rows = [
        f"| {'✅' if c['met'] else '❌'} | {c['criterion']} | {c['value']} |" for c in criteria
    ]
    table = ["", "| | criterion | value |", "|---|---|---|", *rows] if rows else []
    return "\n".join([head, *table]), passed


def unloaded_plots(diff: dict, base: str) -> dict[str, str]:
    """Plots `dvc plots diff` could not load for the base revision: plot id -> why."""
    return {e.get("name") or e.get("source", "?"): e.get("msg", e.get("type", "not loaded"))
            for e in diff.get("errors", []) if e.get("rev") == base}  # fmt: skip


def changed_plots(diff: dict, skip: frozenset[str] = frozenset()) -> dict[str, dict]:
    """The vega-lite specs (data included) of plots whose values differ between revisions
    (`skip`: plots whose base data did not load, which cannot be compared)."""
    changed = {}
    for plot_id, renders in diff.get("data", {}).items():
        if plot_id in skip:
            continue
        for render in renders:
            spec = render.get("content") or {}
            values = spec.get("data", {}).get("values", [])
            by_rev: dict[str, list] = {}
            for row in values:
                rest = {k: v for k, v in row.items() if k != "rev"}
                by_rev.setdefault(row.get("rev", ""), []).append(json.dumps(rest, sort_keys=True))
            if len(by_rev) == 1 or len({tuple(v) for v in by_rev.values()}) > 1:
                changed[plot_id] = spec  # new in this revision, or other values
    return changed


def render_plots(specs: dict[str, dict], folder: Path) -> list[tuple[str, Path]]:
    """Each spec as a PNG under `folder` (vl-convert: Vega's own renderer, no browser)."""
    import vl_convert

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for plot_id, spec in specs.items():
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", plot_id).strip("_") or "plot"
        path = folder / f"{name}.png"
        path.write_bytes(vl_convert.vegalite_to_png(json.dumps(spec), scale=1.5))
        written.append((plot_id, path))
    return written


@dataclass(frozen=True)
class PipelineRun:
    """How `dvc repro` went before the report: its exit status and its log's last lines."""

    status: int
    tail: str


def run_pipeline(repo: Path, log_path: Path) -> PipelineRun:
    """`dvc pull` when a remote is configured (the stages' cached outputs, and what the
    base's plots need), then `dvc repro`; the whole log to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    remotes = subprocess.run([tool("dvc"), "remote", "list"], cwd=repo, capture_output=True,
                             text=True).stdout.strip()  # fmt: skip
    steps = [["pull"], ["repro"]] if remotes else [["repro"]]
    with open(log_path, "w") as log:
        for step in steps:
            log.write(f"$ dvc {' '.join(step)}\n")
            log.flush()
            done = subprocess.run([tool("dvc"), *step], cwd=repo, stdout=log,
                                  stderr=subprocess.STDOUT)  # fmt: skip
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
    return PipelineRun(done.returncode, tail)  # repro's (a failed pull leaves it to repro)


def pipeline_section(run: PipelineRun | None, log_name: str) -> str:
    if run is None:
        return ""
    if run.status == 0:
        return "**Pipeline: `dvc repro` ran** (exit 0).\n\n"
    return (
        f"**Pipeline: `dvc repro` FAILED** (exit {run.status}): the gate, metrics and plots "
        f"below are what the run left, not this change's results. The log's last lines "
        f"(whole log: `{log_name}` in the workflow's artifact):\n\n```\n{run.tail}\n```\n\n"
    )


def build_report(
    base: str, repo: Path = Path("."), out: Path = OUT, run: PipelineRun | None = None
) -> tuple[str, bool | None]:  # fmt: skip
    """The Markdown report of the workspace against `base`, plots written under `out`."""
    gate, passed = gate_section(repo)
    metrics = dvc(["metrics", "diff", base, "--md"], repo).strip()
    params = dvc(["params", "diff", base, "--md"], repo).strip()
    plots = json.loads(dvc(["plots", "diff", base, "--json"], repo) or "{}")
    unloaded = unloaded_plots(plots, base)
    images = render_plots(changed_plots(plots, frozenset(unloaded)), repo / out / "plots")
    lines = [
        f"## trainflow: this change against `{base}`", "",
        pipeline_section(run, LOG_NAME) + gate, "",
        "### Metrics", "", _table(metrics) or "No metric changed.", "",
        "### Params", "", _table(params) or "No param changed.", "",
        "### Plots that changed", "",
    ]  # fmt: skip
    if images:
        lines.append("Rendered as PNG in this run's `change-report` artifact (`plots/`):")
        lines += [f"- {plot_id} (`plots/{path.name}`)" for plot_id, path in images]
    else:
        lines.append("No plot changed.")
    if unloaded:
        lines += [
            "",
            f"Not compared: the data of these plots at `{base}` could not be loaded "
            "(DVC-cached outputs in no cache here and no remote to fetch them from):",
        ]
        lines += [f"- {plot_id}: {why}" for plot_id, why in sorted(unloaded.items())]
    return "\n".join(lines) + "\n", passed


def _table(markdown: str) -> str:
    """A Markdown table DVC printed, or "" when it has a header but no row."""
    return markdown if len(markdown.strip().splitlines()) > 2 else ""


LOG_NAME = "repro.log"


def main(base: str, out: Path, fail_on_gate: bool, run_first: bool = False) -> None:
    run = run_pipeline(Path("."), out / LOG_NAME) if run_first else None
    report, passed = build_report(base, Path("."), out, run)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report)
    print(report)
    print(f"written: {out / 'report.md'}")
    if run is not None and run.status != 0:
        raise StageError(f"dvc repro failed (exit {run.status}); the report says so")
    if fail_on_gate and passed is False:
        raise StageError("the quality gate failed on this revision (see the report)")
