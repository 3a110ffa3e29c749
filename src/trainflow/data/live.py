"""Live sources (a database, an S3 bucket): export them to a local snapshot DVC can hash.

DVC cannot hash a database or a bucket, so `trainflow fetch-data` exports the source to the
snapshot file `ingest.source.path` (Parquet, byte-identical for identical content) plus a
provenance sidecar; ingest depends on the snapshot. Unchanged source -> unchanged snapshot ->
nothing downstream reruns. Credentials come from the environment, the AWS chain or a DVC
remote's config and never reach outputs, logs or error messages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from trainflow.data.sources import SOURCE_FILE_COLUMN, read_table, stack
from trainflow.errors import StageError
from trainflow.io import atomic_path, replace_path, sha256_of_tree
from trainflow.params import ImageSource, Params, S3Source, SqlSource

ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(text: str, where: str) -> tuple[str, list[str]]:
    """Replace ${NAME} from the environment; return the text and the values used (secrets)."""
    used: list[str] = []

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise StageError(f"{where}: environment variable {name} is not set")
        used.append(os.environ[name])
        return os.environ[name]

    return ENV_VAR.sub(value, text), used


def scrub(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return " ".join(message.split())[:300]


def safe_sql_url(url: str) -> str:
    """The URL as provenance may show it: no password, ${VAR} placeholders left unexpanded."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url)._replace(password=None).render_as_string(hide_password=False)
    except Exception:  # not a parseable URL: show only its scheme
        return url.split(":", 1)[0] + "://…"


def read_sql(source: SqlSource) -> pd.DataFrame:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    url, secrets = expand_env(source.url, "ingest.source.url")
    shown = safe_sql_url(source.url)
    query = source.query or f'SELECT * FROM "{source.table}"'
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ValueError, ImportError) as err:
        raise StageError(f"{shown}: {scrub(str(err), secrets)}") from None
    try:
        with engine.connect() as conn:
            frame = pd.read_sql_query(text(query), conn)
    except (SQLAlchemyError, pd.errors.DatabaseError) as err:
        cause = err if isinstance(err, SQLAlchemyError) else err.__cause__ or err
        driver = getattr(cause, "orig", None) or cause
        reason = scrub(str(driver).splitlines()[0] if str(driver) else repr(driver), secrets)
        raise StageError(f"{shown}: {type(cause).__name__}: {reason}") from None
    finally:
        engine.dispose()
    return frame.assign(**{SOURCE_FILE_COLUMN: source.table or "query"})


def s3_options(source: S3Source | ImageSource) -> tuple[dict, list[str]]:
    """s3fs options: endpoint and credentials from a DVC remote's config, or the AWS chain."""
    options: dict = {}
    secrets: list[str] = []
    endpoint = source.endpoint_url
    if source.dvc_remote:
        from dvc.config import Config

        remotes = Config.from_cwd(validate=False).get("remote", {})
        if source.dvc_remote not in remotes:
            raise StageError(f"ingest.source.dvc_remote: no DVC remote {source.dvc_remote!r}")
        remote = remotes[source.dvc_remote]
        endpoint = endpoint or remote.get("endpointurl")
        if remote.get("access_key_id"):
            options["key"] = remote["access_key_id"]
            options["secret"] = remote.get("secret_access_key")
            secrets += [options["key"], options["secret"] or ""]
    if endpoint:
        options["client_kwargs"] = {"endpoint_url": endpoint}
    return options, secrets


@contextlib.contextmanager
def s3_errors(url: str, secrets: list[str]) -> Iterator[None]:
    """Any failure talking to S3 as one StageError naming the URL, secrets scrubbed (botocore
    and aiohttp raise many types); our own StageErrors pass through."""
    try:
        yield
    except StageError:
        raise
    except Exception as err:
        raise StageError(f"{url}: {type(err).__name__}: {scrub(str(err), secrets)}") from None


def s3_objects(source: S3Source) -> tuple[dict, list[str], dict[str, int]]:
    """The objects the URL names (a key or a glob) in key order with their sizes, and the s3fs
    options and secrets that read them; a missing bucket or object is one line naming it."""
    import s3fs

    options, secrets = s3_options(source)
    fs = s3fs.S3FileSystem(**options)
    bucket = source.url.removeprefix("s3://").split("/", 1)[0]
    with s3_errors(source.url, secrets):
        if not fs.exists(bucket):
            raise StageError(f"s3://{bucket}: bucket does not exist")
        if any(c in source.url for c in "*?["):
            found = fs.glob(source.url, detail=True)
        else:
            key = source.url.removeprefix("s3://")
            found = {key: fs.info(key)} if fs.exists(key) else {}
    sizes = {key: int(info["size"]) for key, info in found.items() if info["type"] == "file"}
    if not sizes:
        raise StageError(f"{source.url}: no such object")
    return options, secrets, sizes


def read_s3(source: S3Source) -> pd.DataFrame:
    """Every object matching the URL (a key or a glob), stacked in key order."""
    import s3fs

    options, secrets, sizes = s3_objects(source)
    fs = s3fs.S3FileSystem(**options)
    with s3_errors(source.url, secrets):
        frames = [(object_name(key), read_table(fs.cat_file(key), key, source))
                  for key in sorted(sizes)]  # fmt: skip
    return stack(frames)


def object_name(key: str) -> str:
    """An object's name in the source-file column: its key without the bucket."""
    return key.split("/", 1)[1]


def source_uri(source: SqlSource | S3Source) -> str:
    if isinstance(source, SqlSource):
        what = f"table {source.table}" if source.table else "query"
        return f"{safe_sql_url(source.url)} ({what})"
    return source.url


def provenance_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + ".provenance.json")


def fetch_snapshot(
    source: SqlSource | S3Source, refresh: bool, params: Params | None = None
) -> Path:
    """Export the live source to its snapshot unless one exists (or `refresh`), by the engine
    params.yaml `data.engine` names (pandas: one file; spark: a dataset of parts, a JDBC read
    for a database)."""
    from trainflow.engines import engine_part

    if source.path.exists() and not refresh:
        return source.path
    engine = params.data.engine if params is not None else "pandas"
    source.path.parent.mkdir(parents=True, exist_ok=True)
    staging = tempfile.TemporaryDirectory(prefix=f".{source.path.name}.", dir=source.path.parent)
    with staging as tmp:
        staged = Path(tmp) / source.path.name
        rows, columns = engine_part(engine, "fetch-data").export(source, params, staged)
        digest = sha256_of_tree(staged)
        if source.path.exists() and digest == sha256_of_tree(source.path):
            return source.path  # identical: the provenance (time of first fetch) stays as it is
        replace_path(staged, source.path)
    provenance = {
        "uri": source_uri(source),
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "columns": columns,
        "snapshot_sha256": digest,
    }
    with atomic_path(provenance_path(source.path)) as tmp:
        tmp.write_text(json.dumps(provenance, indent=2) + "\n")
    return source.path


def fetch_images(source: ImageSource, refresh: bool) -> Path:
    """Copy every object under the S3 prefix `source.url` into the folder `source.path` (keys
    relative to the prefix; a URL naming one object, e.g. a zip, becomes the file `path`),
    with a provenance sidecar. Same content again: the sidecar (time of first fetch) stays."""
    import s3fs

    from trainflow.data.image_sources import source_digest
    from trainflow.io import atomic_dir

    assert source.url is not None
    if source.path.exists() and not refresh:
        return source.path
    options, secrets = s3_options(source)
    # a fresh listing each time: fsspec would reuse a cached instance and its stale listings
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True, use_listings_cache=False)
    prefix = source.url.removeprefix("s3://").rstrip("/")
    bucket = prefix.split("/", 1)[0]
    before = source_digest(source) if source.path.exists() else None
    with s3_errors(source.url, secrets):
        if not fs.exists(bucket):
            raise StageError(f"s3://{bucket}: bucket does not exist")
        if fs.isfile(prefix):  # one object: an archive of images
            with atomic_path(source.path) as tmp:
                tmp.write_bytes(fs.cat_file(prefix))
            count = 1
        else:
            keys = sorted(fs.find(prefix))
            if not keys:
                raise StageError(f"{source.url}: no objects under this prefix")
            with atomic_dir(source.path) as tmp:
                for key in keys:
                    target = tmp / key[len(prefix) :].lstrip("/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(fs.cat_file(key))
            count = len(keys)
    digest = source_digest(source)
    if digest == before and provenance_path(source.path).exists():
        return source.path
    provenance = {
        "uri": source.url,
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "objects": count,
        "snapshot_sha256": digest,
    }
    with atomic_path(provenance_path(source.path)) as tmp:
        tmp.write_text(json.dumps(provenance, indent=2) + "\n")
    return source.path
