import json

from trainflow.serving.predlog import JsonLinesLog, client_hash, log_files, new_ids
from trainflow.serving.rollout import check_compatible, in_share


def test_log_rotates_by_size_and_never_splits_a_call(tmp_path):
    log = JsonLinesLog(tmp_path, "predictions", max_bytes=10_000, backups=3)
    for call in range(200):
        log.write([{"id": f"{call}-{i}", "record": {"x": "y" * 50}} for i in range(4)])
    log.close()
    files = log_files(tmp_path, "predictions")
    assert len(files) == 4  # the live file + 3 backups; older ones dropped
    assert all(f.stat().st_size <= 10_000 for f in files)
    for f in files:  # each file holds whole calls: 4 lines of one call together
        calls = [json.loads(line)["id"].split("-")[0] for line in f.read_text().splitlines()]
        assert len(calls) % 4 == 0 and all(
            calls[i] == calls[i + 3] for i in range(0, len(calls), 4)
        )
    newest = [json.loads(line)["id"] for line in files[0].read_text().splitlines()]
    assert newest[-1] == "199-3"


def test_ids_are_unique_and_client_ids_are_kept_only_hashed():
    ids = new_ids(10_000)
    assert len(set(ids)) == 10_000 and all(len(i) == 32 for i in ids)
    assert client_hash("alice@example.com") != "alice@example.com"
    assert client_hash("alice@example.com") == client_hash("alice@example.com")
    assert client_hash(None) is None


def test_canary_routing_is_sticky_and_takes_its_share():
    clients = [f"client-{i}" for i in range(20_000)]
    picked = [in_share(c, 0.1) for c in clients]
    assert 0.09 < sum(picked) / len(picked) < 0.11
    assert picked == [in_share(c, 0.1) for c in clients]  # same client, same side
    assert not any(in_share(c, 1e-9) for c in clients[:1000])


def test_two_versions_must_answer_the_same_request(data_params):
    import pytest

    from trainflow.errors import StageError

    check_compatible(data_params, data_params, "m:1")
    other = data_params.model_copy(update={"labels": ["no", "yes"]})
    with pytest.raises(StageError, match="challenger m:2: its labels"):
        check_compatible(data_params, other, "m:2")


def test_feedback_schema_takes_a_known_label_or_a_finite_value(data_params):
    import pytest
    from pydantic import ValidationError

    from trainflow.serving.schema import feedback_model

    Feedback = feedback_model(data_params)
    ok = Feedback(id="0" * 32, label=">50K")
    assert ok.model_dump() == {"id": "0" * 32, "label": ">50K"}
    for bad in ({"id": "0" * 32, "label": "rich"}, {"id": "x", "label": ">50K"},
                {"id": "0" * 32, "label": ">50K", "extra": 1}):  # fmt: skip
        with pytest.raises(ValidationError):
            Feedback(**bad)
    regression = data_params.model_copy(update={"task": "regression", "labels": []})
    Value = feedback_model(regression)
    assert Value(id="a" * 32, value=41.5).value == 41.5
    with pytest.raises(ValidationError):
        Value(id="a" * 32, value=float("inf"))
