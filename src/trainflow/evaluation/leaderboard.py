"""The leaderboard: every candidate family (and the ensemble) side by side, with validation
metrics (what selection saw), test metrics (reported only), fit time, inference speed and model
size. metrics/leaderboard.json holds the reproducible columns; the table in
reports/leaderboard.md adds the timings."""

from __future__ import annotations

TIMING_COLUMNS = ("fit_seconds", "rows_per_second")


def leaderboard_rows(
    selection: dict, test: dict[str, dict], sizes: dict[str, int], headline: tuple[str, ...]
) -> list[dict]:
    """One row per family in selection order (best validation metric first)."""
    key = selection["metric"].removeprefix("val ")
    rows = []
    for entry in selection["leaderboard"]:
        name = entry["family"]
        if name not in test:
            continue
        row = {"family": name, "champion": name == selection["champion"],
               "weight": selection["weights"].get(name, 0.0), "val_metric": key,
               "val": entry[key]}  # fmt: skip
        row |= {f"test_{m}": test[name][m] for m in headline}
        row["size_kb"] = round(sizes[name] / 1024, 1)
        rows.append(row)
    return rows


def leaderboard_markdown(rows: list[dict], timings: dict[str, dict], metric: str) -> str:
    """The leaderboard as a markdown table, timings joined in."""
    if not rows:
        return "(no candidates)\n"
    full = [row | {c: timings.get(row["family"], {}).get(c) for c in TIMING_COLUMNS}
            for row in rows]  # fmt: skip
    cols = [c for c in full[0] if c != "val_metric"]
    lines = [
        f"# Leaderboard (champion chosen by {metric}; test metrics only reported)\n",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for row in full:
        lines.append("| " + " | ".join(_cell(row[c], c) for c in cols) + " |")
    return "\n".join(lines) + "\n"


FORMATS = {"size_kb": "{:,.1f}", "fit_seconds": "{:.1f}", "rows_per_second": "{:,.0f}",
           "weight": "{:.2f}"}  # fmt: skip


def _cell(value: object, column: str) -> str:
    if value is None or (column == "weight" and not value):
        return ""
    if isinstance(value, bool):
        return "**yes**" if value else ""
    if isinstance(value, float):
        return FORMATS.get(column, "{:.4f}").format(value)
    return str(value)
