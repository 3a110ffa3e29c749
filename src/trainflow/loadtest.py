"""Serve a built bundle on loopback and put closed-loop HTTP load on it: N clients, each
sending its next request as soon as the last one is answered, for a fixed time. Used by the
serving benchmark and the hardening tests; the load runs in the caller's process, apart from
the server it measures."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil
import requests

from trainflow import paths
from trainflow.errors import StageError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    url: str
    pid: int  # the `bentoml serve` process; its workers are its children
    bento_tag: str


def _bento_config(home: Path, bento_tag: str) -> Path:
    name, version = bento_tag.split(":")
    return home / "bentos" / name / version / "src/trainflow/serving/bundle.json"


@contextmanager
def serve_bundle(
    bundle_dir: Path, workdir: Path, env: dict[str, str] | None = None,
    batching: bool | None = None, ready_s: float = 90, config: dict | None = None,
) -> Iterator[Server]:  # fmt: skip
    """`bentoml import` the bundle's archive into a store under `workdir` and `bentoml serve`
    it on a free loopback port. `batching` overrides the bundle's package.batching.enabled,
    `config` other keys of its bundle.json (e.g. max_request_bytes). The server's process
    group is stopped on exit, also on failure."""
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "bentoml_home"
    env = {**(os.environ if env is None else env), "BENTOML_HOME": str(home),
           "BENTOML_DO_NOT_TRACK": "True"}  # fmt: skip
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    archive = (bundle_dir / paths.BUNDLE_ARCHIVE_NAME).resolve()  # relative: read at / (1.4)
    shutil.rmtree(home, ignore_errors=True)  # a store of its own: never a stale same-tag bento
    imported = subprocess.run([bentoml, "import", str(archive)], cwd=workdir, env=env,
                              capture_output=True, text=True)  # fmt: skip
    if imported.returncode != 0:
        raise StageError(f"bentoml import {archive} failed: {imported.stderr[-1000:]}")
    tag = json.loads((bundle_dir / "bundle.json").read_text())["bento_tag"]
    if batching is not None or config:
        changed = json.loads(_bento_config(home, tag).read_text()) | (config or {})
        if batching is not None:
            changed["batching"]["enabled"] = batching
        override = workdir / "bundle-override.json"
        override.write_text(json.dumps(changed))
        env["TRAINFLOW_BUNDLE_CONFIG"] = str(override)
    port = free_port()
    cmd = [bentoml, "serve", tag, "--host", "127.0.0.1", "--port", str(port)]
    with server_process(cmd, env, workdir / f"serve-{port}.log", ready_s, workdir) as (url, pid):
        yield Server(url=url, pid=pid, bento_tag=tag)


@contextmanager
def server_process(
    cmd: list[str], env: dict[str, str], log_path: Path, ready_s: float, cwd: Path | None = None,
) -> Iterator[tuple[str, int]]:  # fmt: skip
    """Start `bentoml serve ... --host H --port P` in its own process group, output to
    `log_path`; yield its URL and pid once /readyz answers. The group is stopped on exit,
    also when readiness failed: never a server left behind."""
    host, port = cmd[cmd.index("--host") + 1], cmd[cmd.index("--port") + 1]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    url = f"http://{host}:{port}"
    try:
        _wait_ready(url, proc, log_path, ready_s)
        yield url, proc.pid
    finally:  # the group may be gone already (a server that exited early): its error stands
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, limit_s: float) -> None:
    def exited() -> str | None:
        if proc.poll() is None:
            return None
        return f"bentoml serve exited early: {log.read_text()[-2000:]}"

    wait_ready(url, limit_s, exited, "bentoml serve")


def wait_ready(url: str, limit_s: float, exited=lambda: None, what: str = "the server") -> None:
    """Poll `url`/readyz until it answers 200; StageError with `exited()`'s text as soon as it
    returns one (the server is gone), or when `limit_s` has passed."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        gone = exited()
        if gone is not None:
            raise StageError(gone)
        time.sleep(0.5)
    raise StageError(f"{what} was not ready within {limit_s:.0f} s")


@dataclass(frozen=True)
class Call:
    """One kind of request: POST `body` to `path`; an answer is right when its status is in
    `expect` and `check` (if given) accepts its JSON body."""

    path: str
    body: dict
    expect: frozenset[int] = frozenset({200})
    check: Callable[[Any], bool] | None = None

    def wrong_answer(self, body: bytes) -> bool:
        return self.check is not None and not self.check(json.loads(body))


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)  # answers with an expected status
    wrong: Counter = field(default_factory=Counter)  # "status 503", "ClientOSError", ...

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + sum(self.wrong.values())

    @property
    def throughput(self) -> float:
        """Right answers per second."""
        return len(self.latencies_ms) / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


async def _client(
    session: aiohttp.ClientSession, base_url: str, calls: list[Call], until: float,
    result: LoadResult, rng: random.Random,
) -> None:  # fmt: skip
    while time.perf_counter() < until:
        call = rng.choice(calls)
        start = time.perf_counter()
        try:
            async with session.post(base_url + call.path, json=call.body) as resp:
                body = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            result.wrong[type(exc).__name__] += 1
            continue
        if status not in call.expect:
            result.wrong[f"status {status} on {call.path}"] += 1
        elif call.wrong_answer(body):
            result.wrong[f"another answer on {call.path}"] += 1
        else:
            result.latencies_ms.append((time.perf_counter() - start) * 1000)


async def _run(
    base_url: str, calls: list[Call], clients: int, seconds: float, seed: int, timeout_s: float
) -> LoadResult:
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        result = LoadResult(clients=clients, seconds=seconds)
        until = start + seconds
        await asyncio.gather(*(
            _client(session, base_url, calls, until, result, random.Random(seed + i))
            for i in range(clients)
        ))  # fmt: skip
        result.seconds = time.perf_counter() - start
        return result


def run_load(
    base_url: str, calls: list[Call], clients: int, seconds: float, seed: int = 0,
    timeout_s: float = 30.0,
) -> LoadResult:  # fmt: skip
    """`clients` concurrent closed-loop clients for `seconds`, each picking its next call at
    random from `calls` (seeded)."""
    if not calls:
        raise ValueError("no calls to send")
    gc.freeze()  # this process's own collector pauses must not count as server latency
    try:
        return asyncio.run(_run(base_url.rstrip("/"), calls, clients, seconds, seed, timeout_s))
    finally:
        gc.unfreeze()


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (a server and its workers), MiB."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    total = 0
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 2**20
