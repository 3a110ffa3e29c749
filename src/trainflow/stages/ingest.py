"""ingest: snapshot the configured source into data/raw/ (values verbatim) + provenance."""

from __future__ import annotations

import logging

from trainflow import paths
from trainflow.data.fetch import sha256_of
from trainflow.data.sources import read_source, sample_rows
from trainflow.errors import StageError
from trainflow.io import atomic_dir, write_json
from trainflow.params import load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.ingest")


def main() -> None:
    params = load_params()
    source = params.ingest.source
    if source.kind == "adult_wheel" and source.sha256 and source.path.exists():
        actual = sha256_of(source.path)
        if actual != source.sha256:
            raise StageError(f"{source.path}: sha256 {actual} != ingest.source.sha256")
    raw = sample_rows(read_source(params.ingest), params.ingest.sample_rows, params.seed)
    with atomic_dir(paths.RAW_DIR) as out:
        raw.to_parquet(out / paths.RAW_TABLE.name, index=False)
    provenance = {
        "source": {
            "kind": source.kind,
            "path": str(source.path),
            "sha256": sha256_of(source.path),
        },
        "rows": len(raw),
        "columns": raw.shape[1],
        "sampled": params.ingest.sample_rows is not None,
    }
    write_json(paths.INGEST_METRICS, {"ingest": provenance})
    log.info("raw table: %d rows x %d columns -> %s", len(raw), raw.shape[1], paths.RAW_TABLE)


if __name__ == "__main__":
    run_stage("ingest", main)
