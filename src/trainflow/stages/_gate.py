"""What both quality gates do: run a suite, write Data Docs + profile + metrics, stop on errors.

On success the report goes to the gate's outs folder and metrics file; on failure to
reports/failed/<gate>/ (the last good outputs stay untouched) and the stage exits 1.
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from trainflow import paths
from trainflow.data.profile import profile_markdown
from trainflow.engines.base import GatePart
from trainflow.errors import StageError
from trainflow.io import atomic_dir, write_json


def _write_report(folder: Path, docs: Path, report_summary: dict, profile: dict, title: str):
    shutil.copytree(docs, folder / "data_docs")
    write_json(folder / "profile.json", profile)
    (folder / "profile.md").write_text(profile_markdown(profile, title))
    write_json(folder / "results.json", report_summary)


def run_gate(
    engine: GatePart, gate: str, frame: Any, suite: dict, what: str, out_dir: Path,
    metrics: Path | None = None, row_names: Any = None,
) -> None:  # fmt: skip
    """Validate `frame` (the engine's table) with the engine; on success write the report
    folder and, if given, the one-value metrics file `{"contract": true}` (a `dvc exp show`
    column; the counts are in results.json)."""
    log = logging.getLogger(f"trainflow.{gate}")
    report, docs = engine.check(frame, suite, row_names)
    profile = engine.profile(frame)
    title = f"Profile of {what}"
    summary = report.summary(gate)
    try:
        for line in report.warning_lines():
            print(f"  WARNING {line}", file=sys.stderr)
        if not report.success:
            failed = paths.REPORTS_DIR / "failed" / gate
            shutil.rmtree(failed, ignore_errors=True)
            failed.mkdir(parents=True)
            _write_report(failed, docs, summary, profile, title)
            for line in report.failure_lines():
                print(f"  FAILED {line}", file=sys.stderr)
            raise StageError(
                f"{what} breaks the contract {report.suite!r}: {len(report.errors)} of "
                f"{report.evaluated} expectations failed (report: {failed}/data_docs/index.html)"
            )
        with atomic_dir(out_dir) as out:
            _write_report(out, docs, summary, profile, title)
        if metrics is not None:
            write_json(metrics, {"contract": report.success})
    finally:
        shutil.rmtree(docs, ignore_errors=True)
    log.info("%s passed: %d expectations on %d rows, %d warning(s)",
             gate, report.evaluated, report.rows, len(report.warnings))  # fmt: skip
