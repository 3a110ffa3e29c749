"""The model card: what the model is, what it was trained on, how well it does, and where
not to use it."""

from __future__ import annotations

from trainflow.params import DataParams, Params

CARD_METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "auroc", "average_precision",
               "calibration_error"),
    "multiclass": ("accuracy", "precision_macro", "recall_macro", "f1_macro", "auroc_macro",
                   "log_loss", "calibration_error"),
    "regression": ("rmse", "mae", "r2"),
}  # fmt: skip


BASELINE_NAME = {"binary": "logistic regression", "multiclass": "softmax regression",
                 "regression": "ridge regression"}  # fmt: skip


def _row(name: str, model: float, baseline: float) -> str:
    return f"| {name} | {model:.4f} | {baseline:.4f} | {model - baseline:+.4f} |"


def _what(params: Params) -> str:
    d = params.data
    if d.task_type == "binary":
        return (f"Binary classifier predicting `{d.target}` ({' / '.join(d.labels)}; positive "
                f"class `{d.positive_label}`)")  # fmt: skip
    if d.task_type == "multiclass":
        return f"Multiclass classifier predicting `{d.target}` ({' / '.join(d.labels)})"
    return f"Regression model predicting the number `{d.target}`"


def _split_line(split: dict, params: Params) -> str:
    test = split["test"]
    if params.data.task_type == "binary":
        return f"positive rate {test['positive_rate']:.3f} in test"
    if params.data.is_classification:
        return "test classes " + ", ".join(f"{k} {v}" for k, v in test["class_counts"].items())
    target = test["target"]
    return f"test `{params.data.target}` mean {target['mean']:g}, std {target['std']:g}"


def _single_feature_line(check: dict) -> str:
    """What the leak check before training found: the strongest feature alone, and any
    finding the run went on with (policy warn)."""
    if check.get("policy", "off") == "off" or not check.get("top_feature"):
        return "Single-feature leak check: off."
    line = (
        "Single-feature leak check (before training, on val): the strongest feature alone is "
        f"`{check['top_feature']}`, {check['top_score']} (bound {check['bound']})."
    )
    if check["flagged"]:
        line += " **Went on despite (policy warn):** " + "; ".join(check["flagged"])
    return line


def _criteria(checks: list[dict]) -> str:
    if not checks:
        return "None declared (params.yaml `gate`)."
    rows = [f"| {c['criterion']} | {c['value']:.4f} | {'met' if c['met'] else 'NOT MET'} |"
            for c in checks]  # fmt: skip
    return "| criterion | measured | |\n|---|---|---|\n" + "\n".join(rows)


def _exports(export: dict | None) -> str:
    """One line per exported model (each ensemble member has its own)."""
    if not export:
        return ""
    parity = export["parity"]
    reports = parity if "rows" not in parity else {"": parity}
    lines = []
    for member, report in reports.items():
        formats = [k.removesuffix("_max_abs_diff") for k in report if k.endswith("_max_abs_diff")]
        diffs = ", ".join(f"{f.replace('_', '.')} {report[f'{f}_max_abs_diff']:.2g} (limit "
                          f"{report[f'{f}_tolerance']:g})" for f in formats)  # fmt: skip
        who = f"`{member}`: " if member else ""
        lines.append(f"- {who}exports answer as the model does on the {report['rows']} test "
                     f"rows: max difference {diffs}.")  # fmt: skip
    lines.append("- Raw records through the shipped preprocessor give bit-identical features.")
    return "\n".join(lines)


SETTINGS_FOR = {  # a network family's settings that only matter for one kind of feature
    "numeric": ("numeric_embedding", "d_embedding", "frequency_scale", "n_frequencies", "n_bins"),
    "categorical": ("d_category",),
    "text": ("d_text", "token_dropout"),
    "image": ("cnn_widths", "augment_degrees", "augment_translate", "augment_scale"),
}


def _settings(params: Params, family: str) -> str:
    """The family's settings, without those for a kind of feature the data does not have."""
    d = params.data
    present = {"numeric": d.numeric_features, "categorical": d.categorical_features,
               "text": d.text_features, "image": d.image_features}  # fmt: skip
    unused = {k for kind, keys in SETTINGS_FOR.items() if not present[kind] for k in keys}
    values = getattr(params.families, family).model_dump()
    return ", ".join(f"{k} {v}" for k, v in values.items() if k not in unused)


def _model(params: Params, selection: dict) -> str:
    """What won and why: the validation leaderboard, the champion's family settings (each
    member's, for an ensemble)."""
    champion, weights = selection["champion"], selection["weights"]
    members = weights or {champion: 1.0}
    lines = [f"- Champion: **{champion}**, chosen by {selection['metric']} among "
             f"{', '.join(r['family'] for r in selection['leaderboard'])} (the test split played "
             f"no part)."]  # fmt: skip
    key = selection["metric"].removeprefix("val ")
    lines += [f"  - {r['family']}: {key} {r[key]:.4f}" for r in selection["leaderboard"]]
    for family, weight in members.items():
        share = f" (weight {weight:.2f})" if weights else ""
        lines.append(f"- `{family}`{share}: {_settings(params, family)}.")
    start = params.train.init_from
    if start is not None:
        lines.append(f"- The networks started from the weights in `{start.path}`"
                     f"{f' ({start.version})' if start.version else ''}: `train.init_from`, "
                     "transfer learning; the lineage records the file's sha256.")  # fmt: skip
    return "\n".join(lines)


def _slices(slices: dict, fairness: dict) -> str:
    """Per-slice test metrics (evaluate's report_slices.json; "-": too few rows to rank) and
    the fairness gaps."""
    if not slices:
        return "No slices declared (params.yaml `evaluate.slices`)."
    parts = []
    for column, values in slices.items():
        names = list(dict.fromkeys(k for m in values.values() for k in m if k != "rows"))
        head = f"| {column} | rows | {' | '.join(names)} |\n|---|---:|{'---:|' * len(names)}"
        rows = [f"| {value} | {m['rows']} | " + " | ".join(
                    f"{m[n]:.4f}" if isinstance(m.get(n), float) else "-" for n in names) + " |"
                for value, m in values.items()]  # fmt: skip
        parts.append("\n".join([head, *rows]))
    gaps = [f"- `{column}`: demographic parity difference "
            f"{g['demographic_parity_difference']:.4f}, equal opportunity difference "
            f"{g['equal_opportunity_difference']:.4f} over {g['groups_compared']} groups."
            for column, g in fairness.items()]  # fmt: skip
    return "\n\n".join([*parts, "\n".join(gaps)] if gaps else parts)


def _lineage(lineage: dict | None) -> str:
    """The facts a rebuild cannot reproduce bit for bit: the git commit the bundle was built
    at (with the inputs changed since), latency measured on the building machine, its CPU.
    Without them the card is what the bundle's content_sha256 covers."""
    if lineage is None:
        return ""
    git, speed = lineage["git"], lineage["latency"]
    if git.get("commit"):
        changed = git["uncommitted"]
        more = " and more" if len(changed) > 8 else ""
        state = f", plus uncommitted changes to {', '.join(changed[:8])}{more}" if changed else ""
        commit = f"git commit `{git['commit']}`{state}"
    else:
        commit = "not built from a git checkout"
    return f"""
## Lineage of this build
- Built at {commit}. The `dvc.lock` committed with this bundle pins every input and output
  by hash.
- Latency measured by evaluate on the building machine: one raw record
  {speed["single_record_p50_ms"]:.2f} ms p50 / {speed["single_record_p95_ms"]:.2f} ms p95
  (cleaning + preprocessing + model, in process); {speed["batch_rows_per_s"]:,.0f} rows/s in
  batches. Served over HTTP: see the README's serving benchmark.
- Built on {_machine(lineage.get("machine"))}.
- These facts differ on every rebuild; `metrics/bundle.json`'s content_sha256 covers the
  rest of the bundle, this card without this section included.
"""


def _machine(machine: dict | None) -> str:
    """The building CPU and the numerics it ran under (trainflow.numerics)."""
    if not machine:
        return "a machine not recorded"
    cpu, settings = machine["cpu"], machine["settings"]
    isa = ", ".join(cpu["isa"]) or "no AVX"
    where = f"{cpu['model']} ({isa}; {cpu['cores']} cores)"
    kernels = machine.get("torch_capability", settings.get("ATEN_CPU_CAPABILITY", "?"))
    if settings.get("TRAINFLOW_NUMERICS") == "native":
        return (
            f"{where}, with each library's own kernels (TRAINFLOW_NUMERICS=native: torch's "
            f"{kernels}): another CPU model may compute other last bits"
        )
    return (
        f"{where}, computing with torch's {kernels} kernels, MKL's "
        f"{settings.get('MKL_CBWR', 'own')} branch and {settings.get('OMP_NUM_THREADS')} "
        "threads: the settings every machine trains with (docs/reproducibility.md)"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _preprocessing(params: Params) -> str:
    """What the preprocessor fitted on the train split does, for the feature kinds present."""
    d, pre = params.data, params.train.preprocess
    steps = []
    if d.numeric_features:
        steps.append(f"numerics standardised (log1p first for {', '.join(pre.log1p) or 'none'})")
    if d.categorical_features:
        steps.append(f"categories seen fewer than {pre.min_category_count} times share the "
                     "unknown bucket, missing has its own")  # fmt: skip
    if d.text_features:
        text = pre.text
        steps.append(f"text tokenized into words (Hugging Face tokenizers, lowercase "
                     f"{'on' if text.lowercase else 'off'}): the {text.vocab_size:,} most "
                     f"frequent words seen at least {text.min_frequency} times, the first "
                     f"{text.max_tokens} tokens of each text")  # fmt: skip
    if d.image_features:
        image = pre.image
        colour = "grey" if image.channels == 1 else "RGB"
        steps.append(f"images decoded (Pillow), converted to {colour} and resized to "
                     f"{image.size} x {image.size}, each channel standardised with the train "
                     "split's mean and std; the networks see randomly rotated, shifted and "
                     "zoomed copies while training (kornia, seeded)")  # fmt: skip
    return f"- Preprocessing, fitted on the train split: {'; '.join(steps)}. Seed {params.seed}."


def _feature_lists(d: DataParams) -> str:
    kinds = (("Numeric", d.numeric_features), ("Categorical", d.categorical_features),
             ("Text", d.text_features), ("Image", d.image_features))  # fmt: skip
    return "\n".join(f"- {kind} features: {', '.join(cols)}." for kind, cols in kinds if cols)


def model_card(
    params: Params, metrics: dict, slices: dict | None = None, lineage: dict | None = None
) -> str:
    """Markdown from params and the pipeline's metrics files (ingest, quality, split, eval),
    evaluate's per-slice report, and the build's lineage (None: the reproducible card)."""
    ev, split, prep = metrics["eval"], metrics["split"], metrics["prepare"]
    dq, pq = metrics["data_quality"], metrics["prepared_quality"]
    model, base = ev["model"], ev["baseline"]
    d, card = params.data, params.package.card
    selection = metrics["selection"]
    limits = "\n".join(f"- {line}" for line in card.limitations)
    rows = "\n".join(_row(k, model[k], base[k]) for k in CARD_METRICS[d.task_type])
    source = metrics["ingest"]
    return f"""# Model card: {params.package.model_name}

{_what(params)} from {_count(len(d.features), "feature")}. Built by trainflow's DVC pipeline;
every number below comes from that run's metrics files.

## Model
{_model(params, selection)}
{_preprocessing(params)}
- Baseline: {BASELINE_NAME[d.task_type]} on the same features (the `{params.select.baseline}`
  family{"; TF-IDF of each text" if d.text_features else ""}).
{_feature_lists(d)}
- Not used: {", ".join(d.drop) or "none"}.
{_exports(metrics.get("export"))}

## Data
- Source: `{source["source"]["kind"]}` {source["source"]["uri"]} (sha256
  `{source["source"]["sha256"][:16]}…`), {source["rows"]} raw rows; raw snapshot sha256
  `{source["snapshot_sha256"][:16]}…`.
- Raw data contract: {dq["expectations_evaluated"]} expectations, {dq["errors"]} errors,
  {dq["warnings"]} warnings. Model-ready contract after cleaning:
  {pq["expectations_evaluated"]} expectations, {pq["errors"]} errors.
- Cleaning: {prep["duplicate_rows_removed"]} duplicate records removed,
  {sum(prep["missing_markers_replaced"].values())} missing markers, {prep["labels_normalised"]}
  labels normalised; {prep["rows_out"]} rows kept.
- Splits: train {split["train"]["rows"]}, val {split["val"]["rows"]}, test {split["test"]["rows"]}
  rows ({_split_line(split, params)}).
- {_single_feature_line(split.get("leakage", {}).get("single_feature", {}))}

## Test-set performance{" (threshold 0.5)" if d.task_type == "binary" else ""}
| metric | champion | baseline | difference |
|---|---|---|---|
{rows}

## Performance by slice (test split, threshold 0.5 where it applies)
{_slices(slices or {}, model.get("fairness", {}))}

## Success criteria (declared in params before training)
{_criteria(metrics.get("gate", []))}

## Intended use and limits
- {card.intended_use}
{limits}
- Inputs outside the training ranges or unseen categories are accepted (unknown bucket) but
  predictions there are less reliable.

## Credits
{card.data_credit}
{_lineage(lineage)}"""
