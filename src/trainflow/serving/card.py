"""The model card: what the model is, what it was trained on, how well it does, and where
not to use it."""

from __future__ import annotations

from trainflow.params import Params


def _row(name: str, model: float, baseline: float) -> str:
    return f"| {name} | {model:.4f} | {baseline:.4f} | {model - baseline:+.4f} |"


def model_card(params: Params, metrics: dict) -> str:
    """Markdown from params and the pipeline's metrics files (ingest, quality, split, eval)."""
    ev, split, prep = metrics["eval"], metrics["split"], metrics["prepare"]
    dq, pq = metrics["data_quality"], metrics["prepared_quality"]
    model, base = ev["model"], ev["baseline"]
    d, t, card = params.data, params.train, params.package.card
    limits = "\n".join(f"- {line}" for line in card.limitations)
    rows = "\n".join(
        _row(k, model[k], base[k])
        for k in ("accuracy", "precision", "recall", "f1", "auroc", "average_precision",
                  "calibration_error")
    )  # fmt: skip
    source = metrics["ingest"]
    return f"""# Model card: {params.package.model_name}

Binary classifier predicting `{d.target}` ({" / ".join(d.labels)}; positive class
`{d.positive_label}`) from {len(d.features)} features. Built by trainflow's DVC pipeline;
every number below comes from that run's metrics files.

## Model
- MLP over standardised numerics and learned embeddings for categoricals (unknown/rare
  categories share one bucket, missing has its own), hidden layers {t.hidden}, dropout {t.dropout}.
- AdamW lr {t.lr}, weight decay {t.weight_decay}, batch {t.batch_size}, up to {t.max_epochs}
  epochs with early stopping on validation loss (patience {t.patience}), seed {params.seed}.
- Baseline: logistic regression on the same features (L2 {t.baseline.l2}, L-BFGS).
- Numeric features: {", ".join(d.numeric_features)}.
- Categorical features: {", ".join(d.categorical_features)}.
- Not used: {", ".join(d.drop) or "none"}.

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
  rows (positive rate {split["test"]["positive_rate"]:.3f} in test).

## Test-set performance (threshold 0.5)
| metric | model | baseline | difference |
|---|---|---|---|
{rows}

Speed on the packaging machine: {model["speed"]["batch_rows_per_s"]:,.0f} rows/s batched,
single record p50 {model["speed"]["single_record_p50_ms"]} ms / p95
{model["speed"]["single_record_p95_ms"]} ms (cleaning + preprocessing + model).

## Intended use and limits
- {card.intended_use}
{limits}
- Inputs outside the training ranges or unseen categories are accepted (unknown bucket) but
  predictions there are less reliable.

## Credits
{card.data_credit}
"""
