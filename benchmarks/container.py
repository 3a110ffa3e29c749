"""The container, as docs/shipping.md tells a user to build and run it: `trainflow container`
on this repository's bundle from cold (the Debian base made with mmdebstrap, timed on its
own; then no cached layer of this image: the wheels fetched, the offline build), the same
build again (every layer cached), what went in (wheels, their size), the image's size, how long the
server takes from `run` to ready, and the API-key answers of docs/shipping.md.

    make repro                                   # a bundle in models/bundle
    .venv/bin/python benchmarks/container.py

Writes benchmarks/results/container.json. Removes this bundle's image and the base image
first (and the images it makes on the way out, but the base: the next build reuses it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "s3cr3t-key"
RECORD = {
    "age": 39, "workclass": "State-gov", "fnlwgt": 77516, "education": "Bachelors",
    "education_num": 13, "marital_status": "Never-married", "occupation": "Adm-clerical",
    "relationship": "Not-in-family", "race": "White", "sex": "Male", "capital_gain": 2174,
    "capital_loss": 0, "hours_per_week": 40, "native_country": "United-States",
}  # fmt: skip


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start, done.stdout.strip()


def main() -> None:
    import requests

    from trainflow import container
    from trainflow.figures.record import script_command, write_result
    from trainflow.loadtest import free_port, wait_ready

    bundle = ROOT / "models/bundle"
    engine = container.find_engine()
    tag = container.image_tag(bundle)
    for image in (tag, container.base_tag()):
        subprocess.run(engine.cmd("rmi", "-f", image), capture_output=True)
    subprocess.run(engine.cmd("image", "prune", "-f"), capture_output=True)
    start = time.perf_counter()
    container.base_image(engine)  # mmdebstrap + import
    base_s = time.perf_counter() - start
    trainflow = str(Path(sys.executable).with_name("trainflow"))
    cold_s, cold = timed([trainflow, "container"])
    warm_s, _ = timed([trainflow, "container"])
    with tempfile.TemporaryDirectory() as tmp:
        extracted = Path(tmp) / "bento"
        subprocess.run(["tar", "-xf", str(bundle / "bundle.bento"), "-C", tmp], check=True)
        requirements = next(Path(tmp).rglob("env/python/requirements.txt"))
        wheels = container.fetch_wheels(requirements, extracted / "wheels",
                                         ROOT / "requirements.lock")  # fmt: skip
        wheel_bytes = sum(w.stat().st_size for w in wheels)
    size = container._image_size(engine, tag)

    port = free_port()
    name = f"trainflow-bench-{port}"
    start = time.perf_counter()
    subprocess.run(engine.cmd("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:3000",
                              "-e", f"TRAINFLOW_API_KEYS={KEY}", tag),
                   capture_output=True, text=True, check=True)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, 120, what="the container")
        ready_s = time.perf_counter() - start
        body = {"records": [RECORD, {**RECORD, "age": 52, "hours_per_week": 60}]}
        answers = []
        for shown, headers in (("", {}), ("-H 'Authorization: Bearer wrong'",
                                          {"Authorization": "Bearer wrong"}),
                               (f"-H 'X-API-Key: {KEY}'", {"X-API-Key": KEY})):  # fmt: skip
            got = requests.post(f"{url}/predict", json=body, headers=headers, timeout=60)
            answers.append({"shown": shown, "status": got.status_code, "body": got.json()})
        logs = subprocess.run(engine.cmd("logs", name), capture_output=True, text=True)
        key_in_output = KEY in logs.stdout + logs.stderr
        grep = ["exec", name, "grep", "-rq", KEY, container.LOG_DIR]
        key_in_log = subprocess.run(engine.cmd(*grep), capture_output=True).returncode == 0
        logged = ["exec", name, "sh", "-c", f"cat {container.LOG_DIR}/* | wc -l"]
        log_lines = int(subprocess.run(engine.cmd(*logged), capture_output=True,
                                       text=True).stdout.strip() or 0)  # fmt: skip
    finally:
        subprocess.run(engine.cmd("rm", "-f", name), capture_output=True)

    figures = {
        "engine": engine.name,
        "base_image_s": round(base_s, 1),
        "cold_build_s": round(cold_s, 1),
        "cached_build_s": round(warm_s, 1),
        "printed": cold,
        "image_bytes": size,
        "wheels": len(wheels),
        "wheel_bytes": wheel_bytes,
        "ready_s": round(ready_s, 1),
        "request": body,
        "answers": answers,
        "key_in_output": key_in_output,
        "key_in_prediction_log": key_in_log,
        "prediction_log_lines": log_lines,
    }
    print(json.dumps({k: v for k, v in figures.items() if k not in ("request", "answers")}))
    write_result("container", figures, script_command(sys.argv, ROOT), ROOT)


if __name__ == "__main__":
    main()
