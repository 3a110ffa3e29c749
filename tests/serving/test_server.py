"""`bentoml serve` of the bundle the pipeline built, on a free loopback port."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import run
from tests.servers import free_port
from tests.serving.test_schema_and_predictor import RECORD

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pipeline_repo, tmp_path_factory):
    repo, env, _ = pipeline_repo
    env = {**env, "BENTOML_HOME": str(tmp_path_factory.mktemp("serve_home"))}
    run(["bentoml", "import", str(repo / "models/bundle/bundle.bento")], repo, env)
    tag = json.loads((repo / "models/bundle/bundle.json").read_text())["bento_tag"]
    port = free_port()
    log = open(tmp_path_factory.mktemp("serve_log") / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        ["bentoml", "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path_factory.mktemp("serve_cwd"), env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, Path(log.name))
        yield url
    finally:  # also when readiness failed: never leave a server behind
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def wait_ready(url: str, proc: subprocess.Popen, log: Path, limit_s: float = 90) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            pytest.fail(f"bentoml serve exited early: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    pytest.fail(f"bentoml serve was not ready within {limit_s:.0f} s")


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
