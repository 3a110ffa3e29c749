"""The OCI image of the bundle: built with no network, run, and answering /predict exactly as
the same bundle does offline. Skipped only where no container engine can start a container,
with the engine's own error as the reason."""

import json
import subprocess
from pathlib import Path

import pytest
import requests

from tests.serving.test_schema_and_predictor import RECORD
from trainflow import container
from trainflow.errors import StageError
from trainflow.lifecycle.registry import model_folder
from trainflow.loadtest import free_port, wait_ready
from trainflow.serving.predictor import Predictor


def test_the_containerfile_builds_from_local_inputs_only():
    text = container.CONTAINERFILE.format(base="localhost/base:x", bento_path="/b", log_dir="/l")
    assert text.startswith("FROM localhost/base:x\n")
    assert "--no-index" in text and "--find-links /tmp/wheels" in text
    assert "apt-get" not in text and "uv " not in text  # nothing that reaches a network
    assert 'ENTRYPOINT ["/b/env/docker/entrypoint.sh"]' in text and "USER bentoml" in text


def test_engine_flags_go_before_and_after_the_subcommand():
    engine = container.Engine("podman", "/usr/bin/podman", ("--runtime", "runc"), ("--x", "1"))
    assert engine.cmd("build", "-t", "t", ".") == [
        "/usr/bin/podman", "--runtime", "runc", "build", "--x", "1", "-t", "t", "."
    ]  # fmt: skip
    assert engine.cmd("image", "exists", "t") == [
        "/usr/bin/podman", "--runtime", "runc", "image", "exists", "t"
    ]  # fmt: skip


def test_ulimits_asked_for_never_exceed_this_process_limits():
    import resource

    flags = container._ulimit_flags()
    asked = dict(v.split("=") for v in flags[1::2])
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert asked["nofile"] == f"{nofile}:{nofile}"
    nproc = int(asked["nproc"].split(":")[0])
    assert nproc <= (container._pid_max() or nproc)


def test_an_engine_that_is_not_installed_is_named(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StageError, match="podman or docker"):
        container.find_engine()


def test_a_missing_bundle_is_refused_before_anything_is_built(tmp_path):
    with pytest.raises(StageError, match=r"bundle\.bento"):
        container.build(tmp_path, engine=container.Engine("podman", "/bin/false"))


@pytest.fixture(scope="module")
def engine_and_base():
    try:
        engine = container.find_engine()
    except StageError as e:
        pytest.skip(f"no container engine here: {e}")
    try:
        base = container.base_image(engine)
    except StageError as e:  # an engine that cannot build the base image: a real failure
        pytest.fail(f"{engine.name} could not build the base image: {e}")
    refused = container.can_run(engine, base)
    if refused:
        pytest.skip(f"{engine.name} cannot start a container here: {refused}")
    return engine, base


@pytest.mark.slow
def test_the_image_serves_the_bundles_own_answers(pipeline_repo, engine_and_base, tmp_path):
    repo, _, _ = pipeline_repo
    engine, base = engine_and_base
    bundle = repo / "models/bundle"
    tag = container.image_tag(bundle) + "-test"
    built = container.build(bundle, tag=tag, engine=engine, base=base,
                            lock=Path("requirements.lock"))  # fmt: skip
    try:
        inspect = engine.cmd("image", "inspect", tag, "--format", "{{json .Labels}}")
        labels = json.loads(subprocess.run(inspect, capture_output=True, text=True).stdout)
        info = json.loads((bundle / "bundle.json").read_text())
        assert labels["trainflow.content_sha256"] == info["content_sha256"]
        assert built.size_bytes > 0 and built.wheels > 10

        port = free_port()
        name = f"trainflow-test-{port}"
        subprocess.run(engine.cmd("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:3000",
                                  tag), capture_output=True, text=True, check=True)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(url, engine, name)
            records = [RECORD, {**RECORD, "age": 61, "hours_per_week": 70, "capital_gain": 15024}]
            got = requests.post(f"{url}/predict", json={"records": records}, timeout=30)
            assert got.status_code == 200, got.text
            offline = Predictor.load(model_folder(bundle / "bundle.bento", tmp_path / "m"))
            want = offline.predict_records(records)
            for served, expected in zip(got.json(), want, strict=True):
                assert served["label"] == expected["label"]
                assert served["probability"] == pytest.approx(expected["probability"], abs=1e-6)
        finally:
            subprocess.run(engine.cmd("rm", "-f", name), capture_output=True)
    finally:
        subprocess.run(engine.cmd("rmi", "-f", tag), capture_output=True)


def _wait(url: str, engine: container.Engine, name: str, limit_s: float = 120) -> None:
    try:
        wait_ready(url, limit_s, what="the container")
    except StageError as e:
        logs = subprocess.run(engine.cmd("logs", name), capture_output=True, text=True)
        raise AssertionError(f"{e}: {logs.stderr[-1500:]}") from None
