import json

import pandas as pd
import pytest

from tests.conftest import messy_frame
from trainflow.errors import StageError
from trainflow.lifecycle.score import rejects_path, score_file
from trainflow.serving.records import json_records


@pytest.fixture
def work(tmp_path):
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def raw_rows(n: int = 60) -> pd.DataFrame:
    """Source rows as a file holds them: messy spellings, '?' markers, text numbers."""
    frame = messy_frame(n, seed=7).drop(columns=["_source_file"])
    frame["capital_gain"] = frame["capital_gain"].astype(str).str.pad(6)  # " 5000" as text
    return frame


def test_scores_match_the_servers_answers_on_the_same_records(predictor, work, data_params):
    frame = raw_rows()
    frame.to_csv(work / "in.csv", index=False)
    done = score_file(predictor, work / "in.csv", work / "out.csv", chunk_rows=17)
    assert (done.rows, done.scored, done.rejected) == (60, 60, 0)
    out = pd.read_csv(work / "out.csv")
    assert out["row"].tolist() == list(range(1, 61))
    served = predictor.predict_records(json_records(frame, data_params))
    assert out["label"].tolist() == [a["label"] for a in served]
    for label in data_params.labels:
        assert out[f"probability_{label}"].tolist() == pytest.approx(
            [a["probabilities"][label] for a in served], abs=1e-6
        )
    assert not rejects_path(work / "out.csv").exists()


def test_bad_rows_go_to_the_rejects_file_with_the_reason(predictor, work):
    frame = raw_rows(20).astype(object)
    frame.loc[3, "age"] = "old"
    frame.loc[7, "hours_per_week"] = "inf"
    frame.loc[9, "sex"] = "x" * 300
    frame.to_csv(work / "in.csv", index=False)
    done = score_file(predictor, work / "in.csv", work / "out.parquet", chunk_rows=8)
    assert (done.scored, done.rejected) == (17, 3)
    out = pd.read_parquet(work / "out.parquet")
    assert 4 not in out["row"].tolist() and len(out) == 17
    rejects = [json.loads(line) for line in rejects_path(work / "out.parquet").open()]
    assert [(r["row"], r["reason"].split(":")[0]) for r in rejects] == [
        (4, "age"),
        (8, "hours_per_week"),
        (10, "sex"),
    ]
    assert "not a finite number: old" in rejects[0]["reason"]
    assert rejects[0]["record"]["age"] == "old"


def test_chunking_does_not_change_the_answers(predictor, work):
    raw_rows(50).to_json(work / "in.jsonl", orient="records", lines=True)
    score_file(predictor, work / "in.jsonl", work / "a.jsonl", chunk_rows=7)
    score_file(predictor, work / "in.jsonl", work / "b.jsonl", chunk_rows=1000)
    assert (work / "a.jsonl").read_text() == (work / "b.jsonl").read_text()


def test_a_missing_feature_column_stops_with_no_output(predictor, work):
    raw_rows(10).drop(columns=["sex"]).to_csv(work / "in.csv", index=False)
    (work / "out.csv").write_text("earlier good output\n")
    with pytest.raises(StageError, match=r"no column\(s\) \['sex'\]"):
        score_file(predictor, work / "in.csv", work / "out.csv")
    assert (work / "out.csv").read_text() == "earlier good output\n"
    assert sorted(p.name for p in work.iterdir()) == ["in.csv", "out.csv"]


def test_id_columns_are_carried_to_the_output(predictor, work, data_params):
    predictor.data = data_params.model_copy(update={"id_columns": ["person"]})
    frame = raw_rows(5)
    frame["person"] = [f"p{i}" for i in range(5)]
    frame.to_parquet(work / "in.parquet")
    score_file(predictor, work / "in.parquet", work / "out.csv")
    assert pd.read_csv(work / "out.csv")["person"].tolist() == [f"p{i}" for i in range(5)]


@pytest.mark.parametrize("name", ["in.xls", "in.csv.gz"])
def test_unknown_formats_are_refused(predictor, work, name):
    """Ingest's names (.tsv, .txt, .pq, .ndjson too), but no .gz: the output is written in
    chunks."""
    (work / name).write_text("x")
    with pytest.raises(StageError, match=r"unknown format \(use \.csv, \.tsv, \.txt, \.parquet"):
        score_file(predictor, work / name, work / "out.csv")


def test_batch_rules_refuse_exactly_what_the_request_schema_refuses(data_params):
    """Numbers as a file spells them: the batch check and the server's schema agree."""
    from pydantic import ValidationError

    from tests.serving.test_schema_and_predictor import RECORD
    from trainflow.lifecycle.score import check_rows
    from trainflow.serving.schema import record_model

    values = [" 39 ", "39.5", "-1e3", ".5", "5.", "+5", "?", " ? ", "inf", "-inf", "nan", "NaN",
              "1_000", "0x10", "1,000", "true", "old", "", "1e400", "9" * 400]  # fmt: skip
    frame = pd.DataFrame([{**RECORD, "age": v} for v in values]).astype({"age": "str"})
    reasons = check_rows(frame, data_params, 10_000, 5_000_000)
    Record = record_model(data_params)
    for value, reason in zip(values, reasons, strict=True):
        try:
            Record(**{**RECORD, "age": value})
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == (reason == ""), (value, reason)
