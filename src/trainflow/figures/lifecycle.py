"""The generated regions of the pages after deployment (lifecycle, rollout, registry, batch
scoring): what benchmarks/lifecycle.py's walk-through printed, command by command."""

from __future__ import annotations

import json

from trainflow.figures import Sources, renderer
from trainflow.figures.readme import seconds, when

SOURCE = "`benchmarks/results/lifecycle.json`"


def walk(sources: Sources) -> tuple[dict, str]:
    record = sources.result("lifecycle")
    return record["figures"], f"({when(record)}; {SOURCE}.)"


def block(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text}\n```"


def shown(step: dict) -> str:
    """A command and what it printed (stdout, then stderr), as a terminal shows them."""
    out = "\n".join(part for part in (step["stdout"], step["stderr"]) if part)
    return f"$ {step['cmd']}" + (f"\n{out}" if out else "")


@renderer("lifecycle-walkthrough")
def walkthrough(sources: Sources) -> str:
    f, source = walk(sources)
    serve = f["serve"]
    return "\n".join([
        block(f'dvc repro && git add -A && git commit -m "run 1"          # '
              f"{seconds(f['repro_s'])}\n"
              "gto register income-classifier --version v1.0.0\n"
              "gto assign income-classifier --version v1.0.0 --stage prod\n"
              "trainflow serve                                           # serves prod\n"
              f"# {serve['records']:,} records from {serve['clients']} clients, then their "
              "true labels to /feedback", "bash"),
        block(f"{serve['printed']}\n{json.dumps(serve['first_answer'])}"),
        block(shown(f["feedback_1"]), "console"),
        block(f"$ trainflow retrain                                       # "
              f"{seconds(f['retrain_s'])}\n{f['retrain']['stdout']}\n"
              f"$ cat reports/retrain/latest.md\n{f['retrain_report']}", "console"),
        block(f"{shown(f['git_log'])}\n{shown(f['registry_1'])}", "console"),
        "",
        source,
    ])  # fmt: skip


@renderer("lifecycle-canary")
def canary(sources: Sources) -> str:
    f, source = walk(sources)
    c, ab = f["canary"], f["ab_report"]
    split = ", ".join(f"{n:,} answered by {v}" for v, n in sorted(c["answered_by"].items()))
    p = f", p = {ab['p_value']:.2g}" if ab["p_value"] is not None else ""
    return (
        f"Then the canary (`trainflow serve --challenger-stage canary`, {c['records']:,} records "
        f"from {c['clients']} clients: {split} at `share: {f['share']:g}`), `trainflow ab "
        f"--apply` ({ab['recommendation']}{p}: [rollout.md](rollout.md)), a rollback and its "
        "reverse, batch scoring by stage and v1.0.0 retired "
        f"([registry.md](registry.md#retiring-a-version)). {source}"
    )


@renderer("lifecycle-feedback")
def feedback(sources: Sources) -> str:
    f, source = walk(sources)
    return block(shown(f["feedback_2"]), "console") + f"\n\n{source}"


@renderer("rollout-ab")
def ab(sources: Sources) -> str:
    f, source = walk(sources)
    c = f["canary"]
    return (
        f"From the walk-through in [lifecycle.md](lifecycle.md#walk-through-real-output), full "
        f"data, after {c['records']:,} canary records at `share: {f['share']:g}`:\n\n"
        + block(shown(f["ab"]), "console")
        + f"\n\n{source}"
    )


@renderer("registry-retire")
def retire(sources: Sources) -> str:
    f, source = walk(sources)
    steps = [*f["rollback"], f["retire"], *f["refused"]]
    return block("\n".join(shown(s) for s in steps), "console") + f"\n\n{source}"


@renderer("batch-scoring-walkthrough")
def scoring(sources: Sources) -> str:
    f, source = walk(sources)
    return (
        block(f"{shown(f['score'])}\n$ head -c 300 scores.rejects.jsonl\n{f['rejects']}",
              "console") + f"\n\n{source}"
    )  # fmt: skip


@renderer("lifecycle-answer")
def answer(sources: Sources) -> str:
    f, source = walk(sources)
    return block(json.dumps(f["serve"]["first_answer"]), "json") + f"\n\n{source}"
