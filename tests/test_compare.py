"""The experiment comparison page: what it tabulates, and that it draws every plot offline
in a real headless Chromium (the page built by `trainflow compare` in a real repo: pipeline
tests)."""

from __future__ import annotations

from tests.browser import REMOTE, REPORT, probe
from trainflow.compare import experiment_rows, metric_names, page, settings_section

ROWS = [
    {"Experiment": None, "rev": "workspace", "State": None, "contract": True, "champion": "gbdt",
     "val_log_loss": 0.26, "accuracy": 0.87, "families.gbdt.learning_rate": 0.05, "seed": 42,
     "data/split": "abc"},
    {"Experiment": None, "rev": "main", "State": None, "contract": True, "champion": "ensemble",
     "val_log_loss": 0.25, "accuracy": 0.875, "families.gbdt.learning_rate": 0.03, "seed": 42,
     "data/split": "abd"},
    {"Experiment": "q-1", "rev": "1a2b3c", "State": "Queued", "contract": None},
]  # fmt: skip
BOARD = [{"family": "gbdt", "champion": True, "weight": 0.0, "val_metric": "log_loss", "val": 0.26,
          "test_accuracy": 0.87, "size_kb": 800.0},
         {"family": "mlp", "champion": False, "weight": 0.0, "val_metric": "log_loss", "val": 0.27,
          "test_accuracy": 0.86, "size_kb": 500.0}]  # fmt: skip
SPEC = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "mark": "line",
        "data": {"values": [{"step": 0, "loss": 0.5, "rev": "main"},
                            {"step": 1, "loss": 0.4, "rev": "main"}]},
        "encoding": {"x": {"field": "step", "type": "quantitative"},
                     "y": {"field": "loss", "type": "quantitative"},
                     "color": {"field": "rev", "type": "nominal"}}}  # fmt: skip
CURVES = "metrics/train/mlp/plots/metrics"
SPECS = {"ROC": [{"type": "vega", "content": SPEC}],
         f"{CURVES}/val/loss.tsv": [{"type": "vega", "content": SPEC}],
         f"{CURVES}/epoch.tsv": [{"type": "vega", "content": SPEC}]}  # fmt: skip


def test_experiments_table_holds_metrics_and_the_params_that_differ():
    select = {"champion": "gbdt", "val_log_loss": 0.2}
    metrics = metric_names({"": {"data": {"metrics/eval.json": {"data": {"accuracy": 0.8}},
                                           "metrics/select.json": {"data": select}}}})  # fmt: skip
    assert metrics == ["accuracy", "champion", "val_log_loss"]
    columns, rows = experiment_rows(ROWS, ["contract", *metrics])
    assert columns == ["contract", "accuracy", "champion", "val_log_loss",
                       "families.gbdt.learning_rate"]  # fmt: skip
    assert [r["rev"] for r in rows] == ["workspace", "main"]  # the queued one has no results


def test_compare_page_draws_every_plot_offline(tmp_path):
    experiments = experiment_rows(ROWS, ["contract", "accuracy", "champion", "val_log_loss"])
    selected = settings_section({"champion": "gbdt", "weights": {}},
                                {"gbdt": {"learning_rate": 0.05}})  # fmt: skip
    target = tmp_path / "index.html"
    target.write_text(page(experiments, BOARD, {"gbdt": {"fit_seconds": 2.5}}, SPECS, selected))
    shown = probe(target, f"""
      const r = {{plots: document.querySelectorAll('.plot').length,
                  drawn: document.querySelectorAll('.plot svg, .plot canvas').length,
                  rows: Array.from(document.querySelectorAll('tr.champion td'))
                             .map(td => td.textContent),
                  remote: {REMOTE}}};
      {REPORT}""", tmp_path)  # fmt: skip
    assert shown["remote"] == []
    assert shown["plots"] == 2 and shown["drawn"] == 2  # epoch.tsv is bookkeeping, left out
    assert shown["rows"][:3] == ["gbdt", "", "0.2600"]
    assert "learning_rate 0.05" in target.read_text()
