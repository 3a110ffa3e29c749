"""`trainflow retrain`: from served feedback to a registered, canary-stage version, or to a
recorded refusal.

1. Trigger: enough labelled feedback, and the production version's live metric fell below
   its test metric by more than `lifecycle.trigger.max_metric_drop`, or the served records
   drifted (PSI above `max_psi`); `--force` skips the check (a cron or CI schedule).
2. Data: the joined feedback is written as JSON lines, training rows under `ingest.feedback`
   and fixed holdout rows under data/holdout, both `dvc add`-ed and committed.
3. Candidate: the whole pipeline runs as a DVC experiment (`dvc exp run -n retrain-<time>`).
4. Judge: the candidate and the production bundle (fetched by its registry tag) predict the
   same rows: the feedback holdout and the test split. The candidate wins only if it gains at
   least `promote.min_gain` on the holdout and loses at most `promote.max_test_loss` on test.
5. Record: reports/retrain/<time>.json + latest.md committed either way; a winner is
   committed with its outputs, registered (`gto register --bump-minor`, the reason as the
   tag message) and assigned the canary stage; a loser's outputs are reverted, its experiment
   kept in `dvc exp show`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow import paths
from trainflow.errors import StageError
from trainflow.io import read_parquet
from trainflow.lifecycle import feedback as fb
from trainflow.lifecycle import registry
from trainflow.params import DataParams, Params, load_params
from trainflow.serving.drift import drift_report
from trainflow.serving.predictor import Predictor, json_records, records_frame
from trainflow.tools import run_tool, tool

log = logging.getLogger("trainflow.retrain")
REPORTS = Path("reports/retrain")
CANARY_STAGE = "canary"


@dataclass
class Trigger:
    fired: bool
    reasons: list[str]
    facts: dict


def _git(args: list[str], repo: Path) -> str:
    return run_tool(["git", *args], f"git {args[0]}", cwd=repo)


def check_trigger(params: Params, joined: pd.DataFrame, served: pd.DataFrame,
                  profile: dict, prod_metric: float, version: str) -> Trigger:  # fmt: skip
    """Which of the retraining conditions hold, with the figures that decided."""
    data, rule = params.data, params.lifecycle.trigger
    name = fb.metric_name(data)
    mine = joined[joined["version"] == version]
    facts: dict = {"feedback_rows": len(joined), "production_version": version,
                   f"production_test_{name}": prod_metric}  # fmt: skip
    reasons = []
    if len(mine):
        live = fb.live_metric(mine, data)[version][name]
        facts[f"live_{name}"] = live
        drop = prod_metric - live if data.is_classification else live - prod_metric
        facts["metric_drop"] = round(drop, 6)
        if drop > rule.max_metric_drop:
            reasons.append(f"live {name} {live:.4f} vs test {prod_metric:.4f}: worse by "
                           f"{drop:.4f} > max_metric_drop {rule.max_metric_drop}")  # fmt: skip
    if len(served):
        records = [r for r in served["record"] if isinstance(r, dict)]
        frame = records_frame(records, data)
        drift = drift_report(profile, frame)
        worst = max(drift["features"], key=lambda f: f.get("psi") or 0.0, default=None)
        if worst is not None:
            facts["max_psi"] = {"feature": worst["feature"], "psi": worst.get("psi")}
            if (worst.get("psi") or 0.0) > rule.max_psi:
                reasons.append(f"served records drifted: {worst['feature']} PSI "
                               f"{worst['psi']:.3f} > max_psi {rule.max_psi}")  # fmt: skip
    if len(joined) < rule.min_feedback_rows:
        reasons = [f"only {len(joined)} labelled rows (< min_feedback_rows "
                   f"{rule.min_feedback_rows})"] if reasons else []  # fmt: skip
        return Trigger(False, reasons, facts)
    return Trigger(bool(reasons), reasons, facts)


def load_bundle(path: Path, into: Path) -> tuple[Predictor, dict]:
    """A bundle's model and its training split's profile (for drift)."""
    folder = registry.model_folder(path, into)
    return Predictor.load(folder), json.loads((folder / "reference_profile.json").read_text())


def judge(candidate: Predictor, production: Predictor, holdout: pd.DataFrame,
          test: pd.DataFrame, params: Params) -> dict:  # fmt: skip
    """Both models on the same rows; the promotion rule's verdict with its figures."""
    data = params.data
    name = fb.metric_name(data)
    scores: dict[str, dict] = {}
    for where, frame in (("feedback_holdout", holdout), ("test", test)):
        if not len(frame):
            continue
        truth = frame[data.target]
        if where == "feedback_holdout":  # raw records, cleaned as the server cleans them
            features = records_frame(json_records(frame, data), data)
        else:  # the test split, already cleaned
            features = frame[data.features]
        scores[where] = {"rows": len(frame)}
        for who, model in (("candidate", candidate), ("production", production)):
            scores[where][who] = round(_metric(model, features, truth, data), 6)
    rule = params.lifecycle.promote
    sign = 1 if data.is_classification else -1  # higher accuracy, lower rmse
    gain = sign * (scores["feedback_holdout"]["candidate"]
                   - scores["feedback_holdout"]["production"])  # fmt: skip
    loss = -sign * (scores["test"]["candidate"] - scores["test"]["production"])
    wins = gain >= rule.min_gain and gain > 0 and loss <= rule.max_test_loss
    why = (f"feedback holdout {name} {scores['feedback_holdout']['candidate']:.4f} vs "
           f"{scores['feedback_holdout']['production']:.4f} (gain {gain:+.4f}, needs >= "
           f"{rule.min_gain} and > 0); test {name} {scores['test']['candidate']:.4f} vs "
           f"{scores['test']['production']:.4f} (loss {loss:+.4f}, allowed <= "
           f"{rule.max_test_loss})")  # fmt: skip
    return {"metric": name, "scores": scores, "gain": round(gain, 6),
            "test_loss": round(loss, 6), "wins": bool(wins), "why": why}  # fmt: skip


def _metric(model: Predictor, features: pd.DataFrame, truth: pd.Series, data: DataParams) -> float:
    scores = model.predict_clean(features)
    if data.is_classification:
        from trainflow.tasks import predicted_classes

        picked = np.asarray(data.labels, dtype=object)[predicted_classes(model.task, scores)]
        return float(np.mean(picked == truth.astype(str).to_numpy(dtype=object)))
    return float(np.sqrt(np.mean((scores - truth.to_numpy(dtype=np.float64)) ** 2)))


def _prod_test_metric(repo: Path, version: registry.Version, data: DataParams) -> float:
    """The production version's test metric, as its commit recorded it (metrics/eval.json)."""
    text = _git(["show", f"{version.ref}:{paths.EVAL_METRICS.as_posix()}"], repo)
    return float(json.loads(text)[fb.metric_name(data)])


def retrain(repo: Path, force: bool = False) -> dict:
    """Run the loop once; returns the decision record (also written under reports/retrain)."""
    params = load_params()
    data, life = params.data, params.lifecycle
    artifact, bundle_path = registry.model_artifact(repo)
    prod = registry.resolve(repo, artifact, stage=life.stage)
    work = registry.temp_dir("trainflow-retrain-")
    production, profile = load_bundle(
        registry.fetch_bundle(repo, prod, bundle_path, work / "production.bento"), work / "prod"
    )
    joined = fb.joined(life.logs, data)
    served = fb.served(life.logs)
    trigger = check_trigger(params, joined, served, profile,
                            _prod_test_metric(repo, prod, data), prod.version)  # fmt: skip
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    record: dict = {"time": stamp, "trigger": {"fired": trigger.fired, "forced": force,
                    "reasons": trigger.reasons, **trigger.facts}}  # fmt: skip
    if not (trigger.fired or force):
        record["decision"] = "not run: no trigger held"
        log.info("retrain not run: %s", trigger.reasons or "no trigger held")
        return record
    if joined.empty:
        raise StageError(f"{life.logs}: no answer has feedback yet; nothing to learn from")
    holdout = fb.in_holdout(joined["id"], life.holdout_share)
    train_rows = fb.labelled_rows(joined[~holdout], data.target)
    holdout_rows = fb.labelled_rows(joined[holdout], data.target)
    train_file = params.ingest.feedback / fb.FEEDBACK_FILE
    holdout_file = fb.HOLDOUT_DIR / fb.FEEDBACK_FILE
    fb.write_jsonl(train_rows, repo / train_file)
    fb.write_jsonl(holdout_rows, repo / holdout_file)
    run_tool(
        [tool("dvc"), "add", str(train_file), str(holdout_file)], "dvc add feedback", cwd=repo
    )
    _git(["add", "-A", str(train_file.parent), str(holdout_file.parent)], repo)
    why = "; ".join(trigger.reasons) or "forced (schedule)"
    _git(["commit", "-qm", f"retrain: feedback data, {len(train_rows)} train + "
          f"{len(holdout_rows)} holdout rows ({why})"], repo)  # fmt: skip
    record["data"] = {"train_rows": len(train_rows), "holdout_rows": len(holdout_rows),
                      "commit": _git(["rev-parse", "HEAD"], repo).strip()}  # fmt: skip
    name = f"retrain-{stamp.lower()}"
    done = subprocess.run([tool("dvc"), "exp", "run", "-n", name], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    record["experiment"] = name
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        record |= {"decision": "kept production: the candidate's pipeline failed",
                   "why": " ".join(tail)[:500]}  # fmt: skip
        return _finish(repo, record, stamp, promote=False)
    candidate, _ = load_bundle(repo / bundle_path, work / "candidate")
    test = read_parquet(paths.SPLIT_DIR / "test.parquet")
    holdout_frame = pd.DataFrame(holdout_rows)
    verdict = judge(candidate, production, holdout_frame, test, params)
    record["judgement"] = verdict
    record["decision"] = "promoted to the canary stage" if verdict["wins"] else \
        "kept production: the candidate did not win"  # fmt: skip
    record["why"] = verdict["why"]
    return _finish(repo, record, stamp, promote=verdict["wins"], artifact=artifact)


def _finish(repo: Path, record: dict, stamp: str, promote: bool, artifact: str = "") -> dict:
    from trainflow.io import write_json

    if not promote:  # the experiment stays in `dvc exp show`; the workspace returns to HEAD
        _git(["checkout", "HEAD", "--", "."], repo)
        run_tool([tool("dvc"), "checkout", "--force"], "dvc checkout", cwd=repo)
    else:
        record["version"] = registry.next_minor(registry.versions(repo, artifact))
    (repo / REPORTS).mkdir(parents=True, exist_ok=True)
    write_json(repo / REPORTS / f"{stamp}.json", record)
    (repo / REPORTS / "latest.md").write_text(decision_markdown(record))
    _git(["add", "-A", "."] if promote else ["add", str(REPORTS)], repo)
    message = f"retrain {stamp}: {record['decision']}: {record.get('why', '')}"
    _git(["commit", "-qm", message[:4000]], repo)
    if promote:
        version = record["version"]
        registry.register(repo, artifact, version, f"retrain {stamp}: {record['why']}")
        registry.assign(repo, artifact, version, CANARY_STAGE, f"retrain {stamp}: canary")
    log.info("retrain %s: %s (%s)", stamp, record["decision"], record.get("why", ""))
    return record


def decision_markdown(record: dict) -> str:
    lines = [f"# Retrain {record['time']}", "", f"**{record['decision']}**", ""]
    if record.get("why"):
        lines += [record["why"], ""]
    trigger = record["trigger"]
    lines += ["## Trigger", "", f"fired: {trigger['fired']}, forced: {trigger['forced']}"]
    lines += [f"- {r}" for r in trigger["reasons"]] + [""]
    verdict = record.get("judgement")
    if verdict:
        lines += ["## Same rows, both models", "", "| rows | n | candidate | production |",
                  "|---|---:|---:|---:|"]  # fmt: skip
        for where, s in verdict["scores"].items():
            lines.append(f"| {where} | {s['rows']} | {s['candidate']:.4f} | "
                         f"{s['production']:.4f} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines)
