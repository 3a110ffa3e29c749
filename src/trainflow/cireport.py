"""What a change does to the model, as a pull request comment (the CML pattern): the quality
gate's verdict, `dvc metrics diff` and `dvc params diff` against the base branch as Markdown
tables, and every plot whose data changed, rendered to PNG (vl-convert, offline) beside the
report so `cml comment create --publish` (or an artifact upload) can show them.

Run after `dvc repro` on the change: `trainflow report --base origin/main`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from trainflow import paths
from trainflow.errors import StageError
from trainflow.tools import dvc

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


def changed_plots(diff: dict) -> dict[str, dict]:
    """The vega-lite specs (data included) of plots whose values differ between revisions."""
    changed = {}
    for plot_id, renders in diff.get("data", {}).items():
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


def build_report(base: str, repo: Path = Path("."), out: Path = OUT) -> tuple[str, bool | None]:
    """The Markdown report of the workspace against `base`, plots written under `out`."""
    gate, passed = gate_section(repo)
    metrics = dvc(["metrics", "diff", base, "--md"], repo).strip()
    params = dvc(["params", "diff", base, "--md"], repo).strip()
    plots = json.loads(dvc(["plots", "diff", base, "--json"], repo) or "{}")
    images = render_plots(changed_plots(plots), repo / out / "plots")
    lines = [
        f"## trainflow: this change against `{base}`", "", gate, "",
        "### Metrics", "", _table(metrics) or "No metric changed.", "",
        "### Params", "", _table(params) or "No param changed.", "",
        "### Plots that changed", "",
    ]  # fmt: skip
    if images:
        lines += [f"![{plot_id}](plots/{path.name})" for plot_id, path in images]
    else:
        lines.append("No plot changed.")
    return "\n".join(lines) + "\n", passed


def _table(markdown: str) -> str:
    """A Markdown table DVC printed, or "" when it has a header but no row."""
    return markdown if len(markdown.strip().splitlines()) > 2 else ""


def main(base: str, out: Path, fail_on_gate: bool) -> None:
    report, passed = build_report(base, Path("."), out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report)
    print(report)
    print(f"written: {out / 'report.md'}")
    if fail_on_gate and passed is False:
        raise StageError("the quality gate failed on this revision (see the report)")
