"""Batch scoring: a file of raw records in, each record's id and prediction out.

The file is read in chunks (CSV / JSON lines by pandas, Parquet by row group batches), so memory
is bounded by the chunk size, not the file. Each chunk goes through the request schema's rules
(vectorised: a number, a number as text, a missing marker or null; texts not blank; images that
decode) and then the training code's own cleaning, `clean_features`, as the server does; a row
breaking a rule is written to the rejects file with the reason, never a crash. Outputs are
written under temporary names and renamed when the whole file is done: no partial outputs.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trainflow.data.clean import clean_features
from trainflow.data.sources import FORMAT_BY_SUFFIX, format_from_name
from trainflow.errors import StageError
from trainflow.params import DataParams
from trainflow.serving.predictor import Predictor
from trainflow.tasks import class_probabilities, predicted_classes

MAX_CATEGORY_CHARS = 200  # as the request schema
ROW = "row"  # 1-based row number in the input, when the data has no id columns


@dataclass
class ScoreSummary:
    rows: int
    scored: int
    rejected: int
    seconds: float
    output: str
    rejects: str | None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")


def file_format(path: Path) -> str:
    """csv, parquet or jsonl, from the name as ingest reads it (no .gz: the output is written
    in chunks, and the input read as it will be written)."""
    fmt = format_from_name(path.name, compressed=False)
    if fmt is None:
        raise StageError(f"{path}: unknown format (use {', '.join(FORMAT_BY_SUFFIX)})")
    return fmt


def read_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The file's records, `rows` at a time; CSV and JSON lines cells verbatim (as text)."""
    if not path.is_file():
        raise StageError(f"{path}: not found")
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
                yield batch.to_pandas()
        elif fmt == "csv":
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            yield from pd.read_csv(path, chunksize=rows, dtype=str, keep_default_na=False,
                                   na_values=[""], sep=sep, encoding="utf-8-sig")  # fmt: skip
        else:
            yield from pd.read_json(path, lines=True, chunksize=rows, dtype=False)
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as err:
        raise StageError(f"{path}: cannot read as {fmt} ({str(err).splitlines()[0][:200]})") \
            from None  # fmt: skip


def check_rows(frame: pd.DataFrame, data: DataParams, max_text_chars: int,
               max_image_bytes: int) -> pd.Series:  # fmt: skip
    """Why each row breaks the request schema's rules ('' when it does not): the first
    failing column, named, with the value."""
    from trainflow.data.images import check_image

    markers = {m.strip() for m in data.missing_markers}
    reasons = pd.Series("", index=frame.index, dtype=object)

    def note(bad: pd.Series, why: pd.Series | str) -> None:
        fresh = bad & (reasons == "")
        reasons[fresh] = why if isinstance(why, str) else why[fresh]

    for col in data.numeric_features:
        values = frame[col]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            text = values.astype("string").str.strip()
            missing = values.isna() | text.isin(markers)
            # pandas' parser takes what the schema's number pattern takes (no "1_000", "0x10",
            # "1,000"); inf, nan and overflow come out non-finite: refused
            parsed = pd.to_numeric(text.mask(missing), errors="coerce").astype("float64")
            bad = ~missing & ~np.isfinite(parsed.fillna(np.inf))
        elif pd.api.types.is_bool_dtype(values):
            bad = values.notna()
        else:
            bad = values.notna() & ~np.isfinite(values.astype("float64").fillna(0))
        note(bad, col + ": not a finite number: " + values.astype(str).str.slice(0, 40))
    for col in data.categorical_features:
        long = frame[col].astype("string").str.len().fillna(0) > MAX_CATEGORY_CHARS
        note(long, f"{col}: longer than {MAX_CATEGORY_CHARS} characters")
    for col in data.text_features:
        text = frame[col].astype("string")
        note(text.isna() | ~text.str.contains(r"\S").fillna(False), f"{col}: blank or missing")
        note(text.str.len().fillna(0) > max_text_chars, f"{col}: longer than {max_text_chars}")
    for col in data.image_features:
        why = frame[col].map(lambda v: "missing" if not isinstance(v, str) else
                             check_image(v, max_image_bytes) or "")  # fmt: skip
        note(why != "", col + ": " + why)
    return reasons


def answers_frame(predictor: Predictor, clean: pd.DataFrame) -> pd.DataFrame:
    """The answers /predict gives, as columns: label, probability and one probability per
    label (classification), or value (regression)."""
    scores = predictor.predict_clean(clean)
    if predictor.task == "regression":
        return pd.DataFrame({"value": np.round(scores.astype(np.float64), 6)})
    labels = predictor.data.labels
    probs = class_probabilities(predictor.task, scores).round(6)
    best = predicted_classes(predictor.task, scores)
    out = {"label": np.asarray(labels, dtype=object)[best],
           "probability": probs[np.arange(len(best)), best]}  # fmt: skip
    out |= {f"probability_{label}": probs[:, i] for i, label in enumerate(labels)}
    return pd.DataFrame(out)


class _Writer:
    """Appends frames to a CSV, Parquet or JSON lines file."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self.parquet = None
        self.started = False

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, table.schema)
            self.parquet.write_table(table.cast(self.parquet.schema))
        elif self.fmt == "csv":
            frame.to_csv(self.path, mode="a" if self.started else "w", header=not self.started,
                         index=False)  # fmt: skip
        else:
            with open(self.path, "a" if self.started else "w", encoding="utf-8") as out:
                frame.to_json(out, orient="records", lines=True, force_ascii=False)
        self.started = True

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        elif not self.started:
            self.path.write_text("")


def rejects_path(output: Path) -> Path:
    return output.with_name(f"{output.name.split('.')[0]}.rejects.jsonl")


def score_file(
    predictor: Predictor, source: Path, output: Path, chunk_rows: int = 100_000,
    max_text_chars: int = 10_000, max_image_bytes: int = 5_000_000, progress: bool | None = None,
) -> ScoreSummary:  # fmt: skip
    """Score every record of `source` into `output` (ids + answers); rows breaking the
    schema's rules go to `<output name>.rejects.jsonl` (row, reason, the record)."""
    from tqdm import tqdm

    data = predictor.data
    fmt = file_format(output)
    tmp_out = output.with_name(f".partial.{output.name}")
    rejects = rejects_path(output)
    tmp_rej = rejects.with_name(f".partial.{rejects.name}")
    writer = _Writer(tmp_out, fmt)
    start, rows, rejected = time.perf_counter(), 0, 0
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(unit=" rows", unit_scale=True, disable=not show, desc=f"scoring {source.name}")
    try:
        with open(tmp_rej, "w", encoding="utf-8") as rej:
            for chunk in read_chunks(source, chunk_rows):
                missing = [c for c in data.features if c not in chunk.columns]
                if missing:
                    raise StageError(f"{source}: no column(s) {missing} (the model's features)")
                chunk.index = pd.RangeIndex(rows + 1, rows + 1 + len(chunk))
                reasons = check_rows(chunk, data, max_text_chars, max_image_bytes)
                bad = reasons != ""
                for row, reason in reasons[bad].items():
                    record = json.loads(chunk.loc[[row], data.features].to_json(orient="records"))
                    rej.write(json.dumps({ROW: int(row), "reason": reason,
                                          "record": record[0]}) + "\n")  # fmt: skip
                good = chunk[~bad]
                if len(good):
                    ids = good[data.id_columns] if data.id_columns and all(
                        c in good.columns for c in data.id_columns) else pd.DataFrame(
                        {ROW: good.index.to_numpy()})  # fmt: skip
                    typed = good[data.features].astype(_dtypes(data))
                    answers = answers_frame(predictor, clean_features(typed, data, str(source)))
                    writer.write(pd.concat([ids.reset_index(drop=True), answers], axis=1))
                rows += len(chunk)
                rejected += int(bad.sum())
                bar.update(len(chunk))
        writer.close()
    except BaseException:
        writer.close()
        tmp_out.unlink(missing_ok=True)
        tmp_rej.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    tmp_out.replace(output)
    if rejected:
        tmp_rej.replace(rejects)
    else:
        tmp_rej.unlink()
        rejects.unlink(missing_ok=True)  # an earlier run's rejects are not this run's
    return ScoreSummary(rows=rows, scored=rows - rejected, rejected=rejected,
                        seconds=time.perf_counter() - start, output=str(output),
                        rejects=str(rejects) if rejected else None)  # fmt: skip


def _dtypes(data: DataParams) -> dict[str, str]:
    """As records_frame: numbers as float64 (markers and blanks become missing in cleaning's
    own step, after the rules above passed them), the rest as text."""
    dtypes = {c: "str" for c in [*data.categorical_features, *data.text_features,
                                 *data.image_features]}  # fmt: skip
    return dtypes | {c: "object" for c in data.numeric_features}
