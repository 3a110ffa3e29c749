"""`bentoml serve` of the bundle the pipeline built, on a free loopback port: answers, errors,
adaptive batching, schema fuzzing (schemathesis) and a two-minute load."""

import json
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.serving.test_schema_and_predictor import RECORD
from trainflow.loadtest import Call, run_load, serve_bundle, tree_rss_mb

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(pipeline_repo, tmp_path_factory):
    repo, env, _ = pipeline_repo
    with serve_bundle(repo / "models/bundle", tmp_path_factory.mktemp("serve"), env) as s:
        yield s


@pytest.fixture(scope="module")
def server(served):
    return served.url


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
def test_malformed_requests_get_400_naming_the_problem(server, payload, named):
    resp = predict(server, payload)
    assert resp.status_code == 400, resp.text  # not any 4xx: a 404 or 405 is another bug
    assert named in resp.text


def test_invalid_json_is_a_400(server):
    resp = requests.post(f"{server}/predict", data="nope", timeout=10,
                         headers={"content-type": "application/json"})  # fmt: skip
    assert resp.status_code == 400, resp.text


def test_served_answers_equal_the_bundles_offline_predictions(server, pipeline_repo, tmp_path):
    """The same bundle, the same 40 test records: the server's answers are the ones the
    bundle's model gives offline (its own code, loaded from the archive)."""
    import json

    import pandas as pd

    from trainflow.lifecycle.registry import model_folder
    from trainflow.serving.predictor import Predictor
    from trainflow.serving.records import json_records

    repo, _, _ = pipeline_repo
    offline = Predictor.load(model_folder(repo / "models/bundle/bundle.bento", tmp_path))
    test = pd.read_parquet(repo / "data/split/test.parquet").head(40)
    records = json.loads(json.dumps(json_records(test, offline.data)))  # as a client sends
    served = predict(server, {"records": records})
    assert served.status_code == 200, served.text
    expected = offline.predict_records(records)
    assert [a["label"] for a in served.json()] == [e["label"] for e in expected]
    for answer, want in zip(served.json(), expected, strict=True):
        assert answer["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)
    assert len({a["label"] for a in expected}) == 2  # both classes among the answers


def test_metadata(server, pipeline_repo):
    import json

    meta = requests.post(f"{server}/metadata", json={}, timeout=10).json()
    ev = json.loads((pipeline_repo[0] / "metrics/eval.json").read_text())
    assert meta["labels"] == ["<=50K", ">50K"]
    assert meta["metrics"]["accuracy"] == pytest.approx(ev["accuracy"], abs=1e-6)  # evaluated
    # above always answering the majority class of the same test rows (~0.76), not just 0.7
    import pandas as pd

    target = pd.read_parquet(pipeline_repo[0] / "data/split/test.parquet")["income"]
    majority = target.value_counts(normalize=True).max()
    assert meta["metrics"]["accuracy"] > majority + 0.03, (meta["metrics"], majority)
    assert meta["task"] == "binary" and meta["metrics"]["task"] == "binary"
    assert len(meta["data"]["snapshot_sha256"]) == 64 and len(meta["data"]["source_sha256"]) == 64
    assert set(meta["lineage"]) == {"git", "latency", "machine"}
    assert meta["lineage"]["latency"]["single_record_p50_ms"] > 0
    # the building machine and this worker's: the CPU, and the pinned numerics they ran under
    from trainflow import numerics

    assert meta["lineage"]["machine"]["settings"]["MKL_CBWR"] == "COMPATIBLE"
    worker = meta["numerics"]
    assert worker["cpu"]["model"] == numerics.cpu()["model"]
    assert worker["settings"]["MKL_CBWR"] == "COMPATIBLE"
    # torch is loaded (and shows the kernels it took) where the champion has a network
    bundle = json.loads((pipeline_repo[0] / "models/bundle/bundle.json").read_text())
    with_torch = any(r.startswith("torch==") for r in bundle["requirements"])
    assert ("torch_capability" in worker) == with_torch, (worker, bundle["requirements"])
    if with_torch:
        assert worker["torch_capability"] == "AVX2" and worker["torch_threads"] == 1


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
    expected = {"params.json", "requirements.lock", "input_schema.json", "example_request.json",
                "model.onnx", "model_card.md", "family.json", "selection.json"}  # fmt: skip
    assert expected <= set(docs)
    assert b"torch==2.13.0" in docs["requirements.lock"]
    assert json.loads(docs["params.json"])["families"]["mlp"]["width"] == 256
    example = json.loads(docs["example_request.json"])
    jsonschema.validate(example, json.loads(docs["input_schema.json"]))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"records": [{"agee": 3}]}, json.loads(docs["input_schema.json"]))
    resp = predict(server, example)
    assert resp.status_code == 200 and len(resp.json()) == len(example["records"])


def test_explain_returns_each_records_top_features(server):
    resp = requests.post(f"{server}/explain", json={"records": [RECORD, {**RECORD, "age": 60}],
                                                   "top": 3}, timeout=30)  # fmt: skip
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body) == 2 and body[0]["label"] in ("<=50K", ">50K")
    for answer in body:
        tops = answer["top_features"]
        assert len(tops) == 3 and len({t["feature"] for t in tops}) == 3
        sizes = [abs(t["attribution"]) for t in tops]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] > 0
    default = requests.post(f"{server}/explain", json={"records": [RECORD]}, timeout=30).json()
    assert len(default[0]["top_features"]) == 5
    for payload, named in (({"records": [{**RECORD, "age": "old"}]}, "age"),
                           ({"records": [RECORD], "top": 0}, "top"),
                           ({"records": [RECORD], "top": 99}, "top")):  # fmt: skip
        bad = requests.post(f"{server}/explain", json=payload, timeout=10)
        assert 400 <= bad.status_code < 500 and named in bad.text, bad.text


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


def test_wrong_content_type_is_a_415(server):
    resp = requests.post(f"{server}/predict", data=b"records=1", timeout=10,
                         headers={"content-type": "multipart/form-data"})  # fmt: skip
    assert resp.status_code == 415 and "application/json" in resp.text


def _records(n: int, offset: int) -> list[dict]:
    return [{**RECORD, "age": 17 + (offset + i) % 70, "hours_per_week": 1 + (offset * 7 + i) % 90}
            for i in range(n)]  # fmt: skip


def test_concurrent_requests_are_batched_and_answered_in_order(server):
    """Adaptive batching joins concurrent requests into one model call and splits the answers
    back: every request gets its own records' answers, in order, as when sent alone."""
    requests_ = [{"records": _records(1 + i % 3, i * 5)} for i in range(48)]
    alone = [predict(server, r).json() for r in requests_]
    with ThreadPoolExecutor(max_workers=24) as pool:
        together = list(pool.map(lambda r: predict(server, r), requests_))
    assert all(resp.status_code == 200 for resp in together)
    for a, t in zip(alone, together, strict=True):
        assert [p["label"] for p in t.json()] == [p["label"] for p in a]
        assert [p["probability"] for p in t.json()] == pytest.approx(
            [p["probability"] for p in a], abs=1e-5
        )
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    sums = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
            if line.startswith("bentoml_service_adaptive_batch_size_")
            and 'method_name="predict"' in line and not line.startswith("#")}  # fmt: skip
    count = sums["bentoml_service_adaptive_batch_size_count"]
    assert sums["bentoml_service_adaptive_batch_size_sum"] > count  # some calls joined requests


def test_schema_fuzzing_finds_no_server_error(server, tmp_path):
    """schemathesis against the running server's own OpenAPI document with every check on,
    bounded (60 cases per operation, fixed seed): no 5xx, schema-invalid bodies rejected,
    schema-valid ones accepted, only declared status codes, every response body (errors
    included) valid against its documented schema, answers within the server's timeout."""
    cli = str(Path(sys.executable).with_name("schemathesis"))
    done = subprocess.run(
        [cli, "run", f"{server}/docs.json", "--checks", "all", "--max-examples", "60",
         "--seed", "7", "--workers", "1", "--generation-database", "none",
         "--request-timeout", "30", "--max-response-time", "30", "--max-failures", "5"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout


LOAD_SECONDS = 60  # the memory trend is fitted over 15-60 s


def test_the_worker_computes_on_the_configured_threads(served, pipeline_repo):
    """package.threads_per_worker reaches the worker as TRAINFLOW_THREADS, from which
    trainflow.numerics sets every library's thread count (one compute thread each by default:
    the HTTP loop needs the other core); /metadata shows what torch took."""
    import psutil

    from trainflow.params import load_params

    repo, _, _ = pipeline_repo
    threads = str(load_params(repo / "params.yaml").package.threads_per_worker)
    assert threads == "1"  # the project's setting; 0 would add no variable
    workers = [p for p in psutil.Process(served.pid).children(recursive=True)
               if "_bentoml_impl.worker.service" in " ".join(p.cmdline())]  # fmt: skip
    assert workers
    for worker in workers:
        assert worker.environ().get("TRAINFLOW_THREADS") == threads
    meta = requests.post(f"{served.url}/metadata", json={}, timeout=10).json()
    assert meta["numerics"]["settings"]["OMP_NUM_THREADS"] == threads
    assert meta["numerics"].get("torch_threads", int(threads)) == int(threads)


def same_answer(expected, tolerance: float = 1e-5):
    """A check that an answer is `expected`: the same keys, labels and lists, numbers within
    `tolerance` (a batch joined with other requests may round its last bits otherwise), and
    any `id` (each answer's own) ignored."""

    def same(got, want) -> bool:
        if isinstance(want, dict):
            keys = set(want) - {"id"}
            return (
                isinstance(got, dict)
                and set(got) - {"id"} == keys
                and all(same(got[k], want[k]) for k in keys)
            )
        if isinstance(want, list):
            return (
                isinstance(got, list)
                and len(got) == len(want)
                and all(same(g, w) for g, w in zip(got, want, strict=True))
            )
        if isinstance(want, float) and isinstance(got, int | float):
            return abs(got - want) <= tolerance
        return got == want

    return lambda got: same(got, expected)


def test_same_answer_tells_another_answer_from_rounding():
    want = [{"id": "a", "label": ">50K", "probability": 0.81234567}]
    check = same_answer(want)
    assert check([{"id": "b", "label": ">50K", "probability": 0.812346}])
    assert not check([{"id": "a", "label": "<=50K", "probability": 0.81234567}])
    assert not check([{"id": "a", "label": ">50K", "probability": 0.8125}])
    assert not check([*want, *want]) and not check({"detail": "error"})


def rss_slope_mb_per_s(samples: list[tuple[float, float]]) -> float:
    """The least-squares trend of (seconds, MiB) samples."""
    import numpy as np

    t, rss = (np.array(v, dtype=float) for v in zip(*samples, strict=True))
    return float(np.polyfit(t, rss, 1)[0])


def test_rss_trend_sees_a_slow_leak_that_adjacent_windows_miss():
    """The check below fits a slope: a leak of 1 MiB/s, with noise, is found; flat is flat."""
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(15, 60, 2.0)
    leak = [(s, 300 + 1.0 * s + rng.normal(0, 3)) for s in t]
    flat = [(s, 300 + rng.normal(0, 3)) for s in t]
    assert rss_slope_mb_per_s(leak) > 0.5 and abs(rss_slope_mb_per_s(flat)) < 0.2


LEAK_LIMIT_MB_PER_S = 0.15  # 9 MiB a minute: a slower leak needs a longer run to be seen


def test_a_minute_of_load_has_no_errors_and_no_memory_growth(served):
    """8 closed-loop clients for a minute on loopback, a mix of single records, batches,
    explanations, drift reports, metadata and bad requests: every answer the one the server
    gives the same request alone (no 5xx, no dropped connection, no answer mixed up under
    batching, bad requests 400 naming the field), and no upward trend in the server's memory
    once warm (a fitted slope over 15-60 s, not two adjacent windows)."""
    bad = {"records": [{**RECORD, "age": "old"}]}
    bodies = [
        *({"records": _records(1, i)} for i in range(20)),
        *({"records": _records(50, i)} for i in range(5)),
    ]
    calls = [Call("/predict", body, check=same_answer(predict(served.url, body).json()))
             for body in bodies]  # fmt: skip
    for path, body in (("/explain", {"records": _records(5, 2)}),
                       ("/drift", {"records": _records(200, 3)}), ("/metadata", {})):  # fmt: skip
        alone = requests.post(f"{served.url}{path}", json=body, timeout=30)
        assert alone.status_code == 200, alone.text
        calls.append(Call(path, body, check=same_answer(alone.json())))
    for body, field in ((bad, "age"), ({"records": [{**RECORD, "agee": 1}]}, "agee")):
        alone = predict(served.url, body)
        assert alone.status_code == 400 and field in alone.text, alone.text
        calls.append(Call("/predict", body, frozenset({400}), check=same_answer(alone.json())))
    answers = [json.dumps([a["probabilities"] for a in predict(served.url, body).json()])
               for body in bodies]  # fmt: skip
    # most answers differ (the trees give neighbours the same one), so a mix-up would show
    assert len(set(answers)) >= 10, answers
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        start = time.monotonic()
        while not stop.wait(2.0):
            samples.append((time.monotonic() - start, tree_rss_mb(served.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = run_load(served.url, calls, clients=8, seconds=LOAD_SECONDS, seed=1)
    finally:
        stop.set()
        sampler.join()
    assert not result.wrong, dict(result.wrong)
    assert result.requests > 20 * LOAD_SECONDS  # it really was under load
    warm = [(t, rss) for t, rss in samples if t >= 15]
    slope = rss_slope_mb_per_s(warm)
    print(
        f"load: {result.requests} requests, {result.throughput:.0f}/s, p99 "
        f"{result.percentile(99):.0f} ms; server RSS {warm[0][1]:.0f} -> {warm[-1][1]:.0f} MiB, "
        f"trend {slope:+.3f} MiB/s"
    )
    assert slope < LEAK_LIMIT_MB_PER_S, f"server memory grows {slope:.3f} MiB/s: {samples}"


def _tampered_bundle(bundle: Path, dest: Path, pick, change: bytes) -> tuple[Path, str]:
    """A copy of the bundle whose archive has one member (the first `pick` accepts) changed."""
    import io
    import tarfile

    dest.mkdir(parents=True)
    shutil.copy2(bundle / "bundle.json", dest / "bundle.json")
    with tarfile.open(bundle / "bundle.bento") as src, \
         tarfile.open(dest / "bundle.bento", "w:xz") as out:  # fmt: skip
        changed = None
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if data is not None and changed is None and pick(member.name):
                data, changed = data + change, member.name
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    assert changed is not None
    return dest, changed


@pytest.mark.parametrize(
    ("pick", "change"),
    [
        (lambda n: n.startswith("./models/") and n.endswith("/family.json"), b" "),
        (lambda n: n.endswith("src/trainflow/serving/predictor.py"), b"\n# edited\n"),
    ],
    ids=["model-file", "code-file"],
)
def test_a_tampered_bundle_is_refused_naming_the_file(pipeline_repo, tmp_path, pick, change):
    from trainflow.errors import StageError

    repo, env, _ = pipeline_repo
    bundle, changed = _tampered_bundle(repo / "models/bundle", tmp_path / "b", pick, change)
    name = changed.split("/")[-1]
    refused = rf"bundle refused: .*{name} differs from the one built"
    with pytest.raises(StageError, match=refused), serve_bundle(bundle, tmp_path / "s", env):
        pass


KEY = "tf-test-key-3b1c9d"


def test_api_keys_on_the_real_server_and_never_logged(pipeline_repo, tmp_path):
    """With TRAINFLOW_API_KEYS set: no key 401, a wrong one 403, the right one (either header)
    answers; probes and the document stay open, and the document states the schemes; the key
    is in no log. A body over max_request_bytes is a 413."""
    repo, env, _ = pipeline_repo
    keyed = {**env, "TRAINFLOW_API_KEYS": f"other-key,{KEY}"}
    work = tmp_path / "serve"
    with serve_bundle(repo / "models/bundle", work, keyed, config={"max_request_bytes": 20_000}
                      ) as s:  # fmt: skip
        body = {"records": [RECORD]}
        for route, payload in [
            ("/predict", body),
            ("/explain", body),
            ("/drift", body),
            ("/metadata", {}),
            ("/feedback", {"feedback": [{"id": "0" * 32, "label": ">50K"}]}),
        ]:
            assert requests.post(f"{s.url}{route}", json=payload, timeout=10).status_code == 401
            wrong = {"Authorization": "Bearer not-the-key"}
            assert requests.post(f"{s.url}{route}", json=payload, headers=wrong,
                                 timeout=10).status_code == 403  # fmt: skip
        for header in ({"Authorization": f"Bearer {KEY}"}, {"X-API-Key": KEY}):
            got = requests.post(f"{s.url}/predict", json=body, headers=header, timeout=10)
            assert got.status_code == 200, got.text
        assert requests.get(f"{s.url}/readyz", timeout=10).status_code == 200
        spec = requests.get(f"{s.url}/docs.json", timeout=10).json()
        assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}
        assert {"401", "403"} <= spec["paths"]["/predict"]["post"]["responses"].keys()
        big = {"records": [RECORD] * 200}  # ~60 kB
        got = requests.post(f"{s.url}/predict", json=big, headers={"X-API-Key": KEY}, timeout=10)
        assert got.status_code == 413 and "max_request_bytes" in got.json()["error"]
    logged = [p for p in work.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert not logged, logged
    assert any(work.rglob("predictions-*.jsonl"))  # the log was written, without the key
