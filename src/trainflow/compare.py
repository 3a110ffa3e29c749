"""`trainflow compare`: one offline HTML page comparing experiments.

It shows the workspace's leaderboard (every family's validation and test metrics, fit time,
inference speed and size), the experiments `dvc exp show` lists with their metrics and the
params that differ between them, and every plot of `dvc plots diff` over those experiments,
their curves overlaid (training curves per family, ROC, precision-recall, calibration,
attributions...). vega, vega-lite and vega-embed are inlined: the page opens with no network.
"""

from __future__ import annotations

import html
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

from trainflow import paths
from trainflow.errors import StageError
from trainflow.io import atomic_path
from trainflow.webassets import inline_scripts

log = logging.getLogger("trainflow.compare")

OUT = paths.REPORTS_DIR / "compare" / "index.html"
HIDDEN = {"Experiment", "rev", "typ", "Created", "parent", "State", "Executor"}
SKIPPED_CURVES = ("/epoch.tsv", "/best_loss.tsv")  # bookkeeping, not curves worth a look
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; font-size: 1.25em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f0f0f0; } td.name, th.name { text-align: left; }
tr.champion td { font-weight: bold; background: #eef6ee; }
.plot { display: inline-block; vertical-align: top; margin: 0.5em; }
.note { color: #666; font-size: 0.9em; }
"""


def experiment_rows(
    rows: list[dict[str, Any]], metrics: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The metric columns and the params that differ between the experiments, and one row
    each (queued and failed ones left out)."""
    rows = [r for r in rows if r.get("State") in (None, "", "Success", "-")]
    if not rows:
        return [], []
    # params keys (dotted), not the dependency hashes DVC lists beside them (paths)
    keys = [k for k in rows[0] if k not in HIDDEN and k not in metrics and "/" not in k]
    differing = [k for k in keys
                 if len({json.dumps(r.get(k), sort_keys=True) for r in rows}) > 1]  # fmt: skip
    return [*metrics, *differing], rows


def metric_names(shown: dict) -> list[str]:
    """The metric keys of `dvc metrics show --json` (the few a person compares)."""
    names: list[str] = []
    for revision in shown.values():
        for content in revision.get("data", {}).values():
            names += [k for k in content.get("data", {}) if k not in names]
    return names


FORMATS = {"size_kb": "{:,.1f}", "fit_seconds": "{:.1f}", "rows_per_second": "{:,.0f}"}


def _cell(value: Any, column: str = "") -> str:
    if isinstance(value, float):
        fmt = FORMATS.get(column, "{:.4f}" if abs(value) < 1000 else "{:,.0f}")
        return fmt.format(value)
    if value is None:
        return ""
    return html.escape(str(value))


def table(columns: list[str], rows: list[dict], name_column: str, champion: str | None = None,
          ) -> str:  # fmt: skip
    head = "".join(f'<th class="{"name" if c == name_column else ""}">{html.escape(c)}</th>'
                   for c in columns)  # fmt: skip
    body = []
    for row in rows:
        klass = ' class="champion"' if champion and row.get(name_column) == champion else ""
        cells = "".join(
            f'<td class="{"name" if c == name_column or isinstance(row.get(c), str) else ""}">'
            f"{_cell(row.get(c), c)}</td>"
            for c in columns
        )
        body.append(f"<tr{klass}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def leaderboard_section(board: list[dict], timings: dict[str, dict]) -> str:
    if not board:
        return "<p class='note'>No leaderboard yet: run <code>dvc repro</code>.</p>"
    rows = [r | timings.get(r["family"], {}) | ({"weight": None} if not r["weight"] else {})
            for r in board]  # fmt: skip
    columns = [c for c in rows[0] if c not in ("champion", "val_metric")]
    columns += [c for c in ("fit_seconds", "rows_per_second") if c not in columns]
    champion = next((r["family"] for r in board if r["champion"]), None)
    metric = board[0]["val_metric"]
    return (f"<p class='note'>Champion (bold) chosen by validation {html.escape(metric)} "
            f"(<code>val</code>); test metrics only report; <code>weight</code>: its share "
            f"of the ensemble.</p>" + table(columns, rows, "family", champion))  # fmt: skip


def settings_section(champion: dict, families: dict) -> str:
    """The selected model: the champion's family (each member's, for an ensemble) and its
    settings from params.yaml."""
    members = champion.get("weights") or {champion.get("champion"): 1.0}
    rows = [{"family": name, "weight": weight, "settings": ", ".join(
        f"{k} {v}" for k, v in (families.get(name) or {}).items())}
        for name, weight in members.items() if name]  # fmt: skip
    return table(["family", "weight", "settings"], rows, "family")


def plots_section(specs: dict[str, list[dict]]) -> str:
    divs, calls = [], []
    specs = {k: v for k, v in specs.items() if not k.endswith(SKIPPED_CURVES)}
    for i, (name, renders) in enumerate(specs.items()):
        for j, render in enumerate(renders):
            if render.get("type") != "vega":
                continue
            spec = dict(render["content"])
            spec.setdefault("title", name)
            div = f"plot-{i}-{j}"
            divs.append(f'<div class="plot" id="{div}"></div>')
            calls.append(f"vegaEmbed('#{div}', {json.dumps(spec)}, {{actions: false}});")
    return "\n".join(divs) + f"\n<script>\n{chr(10).join(calls)}\n</script>"


def page(experiments: tuple[list[str], list[dict]], board: list[dict], timings: dict,
         specs: dict[str, list[dict]], selected: str = "") -> str:  # fmt: skip
    columns, rows = experiments
    names = [{**r, "experiment": r.get("Experiment") or r.get("rev")} for r in rows]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>trainflow: experiments compared</title>
<style>{STYLE}</style>
{inline_scripts()}
</head><body>
<h1>Experiments compared</h1>
<h2>Leaderboard of the workspace</h2>
{leaderboard_section(board, timings)}
<h2>Selected model and its settings</h2>
{selected}
<h2>Experiments</h2>
<p class="note">Metrics and the params that differ between these runs
(<code>dvc exp show --only-changed</code>).</p>
{table(["experiment", *columns], names, "experiment")}
<h2>Plots, experiments overlaid (<code>dvc plots diff</code>)</h2>
{plots_section(specs)}
</body></html>
"""


def _dvc_json(args: list[str]) -> Any:
    done = subprocess.run(["dvc", *args, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        raise StageError(f"dvc {' '.join(args)}: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


def main(revisions: list[str], out: Path = OUT) -> None:
    import dvc.api

    experiments = experiment_rows(dvc.api.exp_show(), metric_names(_dvc_json(["metrics", "show"])))
    revs = revisions or [r.get("Experiment") or r["rev"] for r in experiments[1]
                         if r.get("rev") != "workspace"]  # fmt: skip
    specs = _dvc_json(["plots", "diff", *revs])["data"] if revs else {}
    board = json.loads(paths.LEADERBOARD.read_text()) if paths.LEADERBOARD.exists() else []
    timings = json.loads(paths.EVAL_SPEED.read_text())["speed"]["families"] \
        if paths.EVAL_SPEED.exists() else {}  # fmt: skip
    selection_file = paths.CHAMPION_DIR / paths.SELECTION_NAME
    selected = ""
    if selection_file.exists():
        from trainflow.params import load_params

        families = load_params().families.model_dump(exclude_none=True)
        selected = settings_section(json.loads(selection_file.read_text()), families)
    with atomic_path(out) as tmp:
        tmp.write_text(page(experiments, board, timings, specs, selected))
    print(f"wrote {out}: {len(experiments[1])} experiments, {len(specs)} plots; it opens offline")
