"""README.md's generated regions: the measured table, the quality tables, the serving sample."""

from __future__ import annotations

from typing import Any

from trainflow.figures import Sources, renderer


def when(record: dict[str, Any]) -> str:
    """'2026-12-07, AMD EPYC (avx512f)': when and on what a result was measured."""
    machine = record["machine"]
    isa = machine.get("isa")
    flags = "" if isa is None else " (avx512f)" if "avx512f" in isa else " (avx2)"
    cpu = machine["model"].split(" emulated")[0]
    gpu = f", {machine['gpu']}" if machine.get("gpu") else ""
    note = ", transcribed" if record.get("transcribed_from") else ""
    return f"{record['date'][:10]}, {cpu}{flags}{gpu}{note}"


def seconds(value: float) -> str:
    if value < 90:
        return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{value / 60:.0f} min"


def pair(m: dict[str, float]) -> str:
    return f"{m['accuracy']:.4f} / {m['auroc']:.4f}"


def leaderboard(sources: Sources) -> dict[str, dict[str, float]]:
    return {row["family"]: {"accuracy": row["test_accuracy"], "auroc": row["test_auroc"],
                            "weight": row["weight"], "champion": row["champion"]}
            for row in sources.json("metrics/leaderboard.json")}  # fmt: skip


def champion_row(sources: Sources) -> str:
    board = leaderboard(sources)
    name = sources.json("metrics/select.json")["champion"]
    ev = sources.json("metrics/eval.json")
    what = name
    if name == "ensemble":
        parts = [f"{f} {r['weight']:g}" for f, r in board.items()
                 if f != "ensemble" and r["weight"] > 0]  # fmt: skip
        what = f"ensemble of {' + '.join(parts)}, weights chosen on validation"
    baseline = board["linear"]
    return (f"| champion ({what}) | **accuracy {ev['accuracy']:.4f}, AUROC {ev['auroc']:.4f}**; "
            f"linear baseline {pair(baseline)} | this commit | `metrics/eval.json`, "
            "`metrics/leaderboard.json` |")  # fmt: skip


@renderer("readme-measured")
def measured(sources: Sources) -> str:
    rows = ["| what | figure | measured | source |", "|---|---|---|---|"]
    pipe = sources.result("pipeline")
    f = pipe["figures"]
    rows.append(
        f"| fresh clone → served-ready bundle | {seconds(f['make_repro_s'])} in all "
        "(pip install from the lock, data fetch, every stage) | "
        f"{when(pipe)} | `benchmarks/pipeline.py` |"
    )
    rows.append(
        f"| pipeline alone, every stage, full data | {seconds(f['portable']['median_s'])}"
        f" (median of {len(f['portable']['runs_s'])}); a plain PyTorch loop runs "
        f"{f['anchor_samples_per_s']:,.0f} samples/s in the same run | {when(pipe)} | "
        "`benchmarks/pipeline.py` |"
    )
    rows.append(
        f"| portable numerics (the same bytes on any x86-64 CPU) | "
        f"{f['portable_over_native']:.2f}× the time of each library's own fastest path "
        f"({seconds(f['native']['median_s'])}) | {when(pipe)} | "
        "`benchmarks/pipeline.py` |"
    )
    rows.append(
        f"| second run | {seconds(f['noop_s'])}, nothing reruns | {when(pipe)} | "
        "`benchmarks/pipeline.py` |"
    )
    rows.append(champion_row(sources))
    board = leaderboard(sources)
    singles = ", ".join(f"{name} {pair(board[name])}" for name in ("mlp", "gbdt", "resnet")
                        if name in board)  # fmt: skip
    rows.append(
        f"| single families, test split | {singles} | this commit | `metrics/leaderboard.json` |"
    )
    speed = sources.json("metrics/speed/evaluate.json")["speed"]["model"]
    rows.append(
        f"| one raw record, cleaned and answered in process | p50 "
        f"{speed['single_record_p50_ms']:.2f} ms, p95 {speed['single_record_p95_ms']:.2f}"
        f" ms | this commit | `metrics/speed/evaluate.json` |"
    )
    q = sources.result("quality")
    champ = next(r for r in q["figures"]["rows"] if r["model"] == "trainflow champion")
    best = max((r for r in q["figures"]["rows"] if not r["model"].startswith("trainflow")),
               key=lambda r: r["test_accuracy"])  # fmt: skip
    rows.append(
        f"| quality, mean of {q['figures']['seeds']} seeds ([below](#quality-on-adult)) "
        f"| champion {champ['test_accuracy']:.4f} / {champ['test_auroc']:.4f}; best "
        f"GBDT library ({best['model']}) {best['test_accuracy']:.4f} / "
        f"{best['test_auroc']:.4f} | {when(q)} | `benchmarks/quality.py` |"
    )
    t = sources.result("train_speed")
    tf = t["figures"]
    rows.append(
        f"| Lightning vs a plain PyTorch loop, same {tf['family'].upper()} | "
        f"{tf['cpu_ratio']:.2f}× the plain loop's samples/s (CPU time; wall "
        f"{tf['wall_ratio']:.2f}×), {tf['epochs']} epochs, median of {tf['repeats']} | "
        f"{when(t)} | `benchmarks/train_speed.py` |"
    )
    s = sources.result("serve_speed")
    sf = s["figures"]
    rows.append(
        f"| serving, real `bentoml serve`, {sf['clients']} clients, one record a request"
        f", every answer logged | batched `/predict` {sf['predict_rps']:,.0f}/s, p99 "
        f"{sf['predict_p99_ms']:.1f} ms: {sf['throughput_ratio']:.2f}× the empty "
        f"endpoint's throughput, {sf['p99_ratio']:.2f}× its p99 ({sf['rounds']} "
        f"interleaved rounds) | {when(s)} | `benchmarks/serve_speed.py` |"
    )
    for name, label in (("verify", "proof of reproduction, fresh clone"),):
        v = sources.result(name)
        vf = v["figures"]
        took = f", {seconds(vf['seconds'])}" if vf["seconds"] is not None else ""
        rows.append(f"| {label} | {vf['identical']} of {vf['checked']} outputs identical "
                    f"({vf['tolerated']} timing files tolerated){took}; commit {vf['rev']}, "
                    f"rerun on {vf['rerun_on']} | {when(v)} | `{vf['command']}` |")  # fmt: skip
    pandas, spark = sources.result("data_path_pandas"), sources.result("data_path_spark")
    big = [max(r["totals"], key=lambda t: t["rows"]) for r in (pandas["figures"],
                                                                spark["figures"])]  # fmt: skip
    for (record, total), engine in zip(((pandas, big[0]), (spark, big[1])),
                                       ("pandas", "Spark (local[2])"), strict=True):  # fmt: skip
        floor = total["seconds"] / total["floor_s"]
        rows.append(
            f"| data stages (ingest to split), {engine}, Adult resampled | "
            f"{total['rows']:,} rows in {seconds(total['seconds'])} at "
            f"{total['peak_mb'] / 1000:.1f} GB peak; {floor:.0f}× a pyarrow "
            f"CSV-to-Parquet floor | {when(record)} | `benchmarks/data_path.py` |"
        )
    stream = sources.result("train_stream")
    epoch = max((r for r in stream["figures"]["steps"] if r["step"] == "one epoch, streamed"),
                key=lambda r: r["rows"])  # fmt: skip
    rows.append(
        f"| training past memory (`train.data: stream`), one MLP epoch | "
        f"{epoch['rows']:,} rows in {seconds(epoch['seconds'])} at "
        f"{epoch['rss_mb'] / 1000:.1f} GB peak | {when(stream)} | "
        "`benchmarks/train_stream.py` |"
    )
    scoring = sources.result("batch_score")
    size = max(scoring["figures"]["sizes"], key=lambda r: r["rows"])
    rows.append(
        f"| batch scoring, raw CSV, the champion | {size['rows']:,} rows at "
        f"{size['score_rows_per_s']:,} rows/s ({size['ratio_to_forward']:.2f}× the "
        f"model's own forward pass), peak {size['peak_rss_mb'] / 1000:.1f} GB | "
        f"{when(scoring)} | `benchmarks/batch_score.py` |"
    )
    ts = sources.result("test_suite")
    tsf = ts["figures"]
    rows.append(
        f"| tests on a fresh clone, 2 cores | `make test` {tsf['make_test']['passed']} "
        f"passed in {seconds(tsf['make_test']['seconds'])}; `make test-fast` "
        f"{tsf['make_test_fast']['passed']} in {seconds(tsf['make_test_fast']['seconds'])}"
        f" | {when(ts)} | `benchmarks/test_suite.py` |"
    )
    return "\n".join(rows)


@renderer("readme-quality")
def quality(sources: Sources) -> str:
    q = sources.figures("quality")
    rows = ["| model, same split | val log_loss | test accuracy | test auroc | fit s |",
            "|---|---|---|---|---|"]  # fmt: skip
    for r in q["rows"]:
        rows.append(f"| {r['model']} | {r['val_log_loss']:.4f} | {r['test_accuracy']:.4f} | "
                    f"{r['test_auroc']:.4f} | {r['fit_s']:.1f} |")  # fmt: skip
    return "\n".join(rows)


@renderer("readme-exp-show")
def exp_show(sources: Sources) -> str:
    shown = sources.figures("samples")["exp_show"]
    return f"```console\n$ dvc exp show\n{shown}\n```"


@renderer("readme-explain")
def explain(sources: Sources) -> str:
    import json

    sample = sources.figures("samples")["explain"]
    request = json.dumps(sample["request"])
    return (
        f"```bash\ncurl -s -X POST 127.0.0.1:3000/explain -H 'content-type: application/json'"
        f" \\\n  -d '{request}'\n```\n\n```json\n{json.dumps(sample['response'])}\n```"
    )
