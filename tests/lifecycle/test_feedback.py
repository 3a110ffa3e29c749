import json

import numpy as np

from trainflow.lifecycle.feedback import in_holdout, joined, labelled_rows, live_metric, served


def write(path, entries, torn: bool = False):
    text = "".join(json.dumps(e) + "\n" for e in entries)
    path.write_text(text + ('{"id": "tor' if torn else ""))


def answer(label):
    return {"label": label, "probability": 0.9, "probabilities": {}}


def test_join_keeps_answers_with_feedback_and_the_latest_label(tmp_path, data_params):
    write(
        tmp_path / "predictions-1.jsonl",
        [
            {
                "id": "a",
                "time": "t1",
                "version": "v1",
                "record": {"age": 30.0},
                "answer": answer(">50K"),
            },
            {
                "id": "b",
                "time": "t1",
                "version": "v1",
                "record": {"age": 40.0},
                "answer": answer("<=50K"),
            },
            {
                "id": "c",
                "time": "t1",
                "version": "v2",
                "record": {"age": 50.0},
                "answer": answer(">50K"),
            },
        ],
        torn=True,
    )  # a server killed mid-write leaves half a line
    write(tmp_path / "predictions-2.jsonl.1", [])
    write(
        tmp_path / "feedback-1.jsonl",
        [
            {"id": "a", "label": "<=50K", "time": "t2"},
            {"id": "a", "label": ">50K", "time": "t3"},
            {"id": "c", "label": "<=50K", "time": "t2"},
            {"id": "zzz", "label": ">50K", "time": "t2"},
        ],
    )
    frame = joined(tmp_path, data_params)
    assert frame["id"].tolist() == ["a", "c"]
    assert frame["truth"].tolist() == [">50K", "<=50K"]  # the later feedback for "a" wins
    assert live_metric(frame, data_params) == {
        "v1": {"rows": 1, "accuracy": 1.0},
        "v2": {"rows": 1, "accuracy": 0.0},
    }
    assert labelled_rows(frame, "income") == [
        {"age": 30.0, "income": ">50K"},
        {"age": 50.0, "income": "<=50K"},
    ]
    assert len(served(tmp_path)) == 3


def test_holdout_membership_is_fixed_per_id_and_takes_its_share():
    import pandas as pd

    ids = pd.Series([f"{i:032x}" for i in range(10_000)])
    first = in_holdout(ids, 0.3)
    assert 0.28 < first.mean() < 0.32
    assert np.array_equal(first, in_holdout(ids[::-1], 0.3)[::-1])  # order does not matter
    assert not (in_holdout(ids, 0.1) & ~first).any()  # a smaller share is a subset
