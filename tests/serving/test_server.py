"""`bentoml serve` of the bundle the pipeline built, on a free loopback port."""

import pytest
import requests

from tests.servers import bento_server
from tests.serving.test_schema_and_predictor import RECORD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pipeline_repo, tmp_path_factory):
    repo, env, _ = pipeline_repo
    with bento_server(repo / "models/bundle", env, tmp_path_factory.mktemp("serve")) as url:
        yield url


def predict(url: str, payload) -> requests.Response:
    return requests.post(f"{url}/predict", json=payload, timeout=10)


def test_valid_messy_records_get_predictions(server):
    resp = predict(server, {"records": [RECORD, {**RECORD, "age": "?", "workclass": None}]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body) == 2
    for p in body:
        assert p["label"] in ("<=50K", ">50K") and 0.5 <= p["probability"] <= 1
        assert sum(p["probabilities"].values()) == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"records": [{**RECORD, "age": "old"}]}, "age"),
        ({"records": [{**RECORD, "agee": 3}]}, "agee"),
        ({"records": [{k: v for k, v in RECORD.items() if k != "sex"}]}, "sex"),
        ({"records": []}, "records"),
        ({"rows": [RECORD]}, "records"),
    ],
)
def test_malformed_requests_get_4xx_naming_the_problem(server, payload, named):
    resp = predict(server, payload)
    assert 400 <= resp.status_code < 500, resp.text
    assert named in resp.text


def test_invalid_json_is_a_4xx(server):
    resp = requests.post(f"{server}/predict", data="nope", timeout=10,
                         headers={"content-type": "application/json"})  # fmt: skip
    assert 400 <= resp.status_code < 500


def test_metadata(server):
    meta = requests.post(f"{server}/metadata", json={}, timeout=10).json()
    assert meta["labels"] == ["<=50K", ">50K"] and meta["metrics"]["accuracy"] > 0.7
    assert meta["task"] == "binary" and meta["metrics"]["task"] == "binary"


def test_bundle_documents_describe_the_server(server, pipeline_repo):
    """The bento's model carries params, lock, input schema and an example request; the
    example validates against the schema and the running server answers it."""
    import json
    import tarfile

    import jsonschema

    repo, _, _ = pipeline_repo
    with tarfile.open(repo / "models/bundle/bundle.bento") as tar:
        model_files = [m for m in tar.getmembers() if m.isfile() and "/models/" in m.name]
        docs = {m.name.rsplit("/", 1)[-1]: tar.extractfile(m).read() for m in model_files}
    assert {"params.json", "requirements.lock", "input_schema.json", "example_request.json",
            "model.pt2", "model.onnx", "model_card.md"} <= set(docs)  # fmt: skip
    assert b"torch==2.13.0" in docs["requirements.lock"]
    assert json.loads(docs["params.json"])["train"]["hidden"] == [128, 64]
    example = json.loads(docs["example_request.json"])
    jsonschema.validate(example, json.loads(docs["input_schema.json"]))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"records": [{"agee": 3}]}, json.loads(docs["input_schema.json"]))
    resp = predict(server, example)
    assert resp.status_code == 200 and len(resp.json()) == len(example["records"])


def test_drift_endpoint_names_the_shifted_feature(server):
    batch = [{**RECORD, "age": 70 + i % 10, "hours_per_week": 40} for i in range(60)]
    resp = requests.post(f"{server}/drift", json={"records": batch}, timeout=30)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["rows"] == 60 and "age" in report["shifted"]
    psis = [f["psi"] for f in report["features"] if f["psi"] is not None]
    assert psis == sorted(psis, reverse=True)  # largest drift first
    bad = requests.post(f"{server}/drift", json={"records": [{**RECORD, "age": "old"}]},
                        timeout=10)  # fmt: skip
    assert 400 <= bad.status_code < 500 and "age" in bad.text
