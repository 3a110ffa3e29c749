"""Real servers on 127.0.0.1 for tests: PostgreSQL (initdb + pg_ctl) and S3 (moto_server).

Each is started on a free port and stopped by its fixture, also when a test fails.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from trainflow.loadtest import free_port, serve_bundle


def wait_for_port(port: int, proc: subprocess.Popen, what: str, limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {port} within {limit_s:.0f} s")


def postgres_bin() -> Path | None:
    """The folder holding initdb / pg_ctl (Debian keeps them out of PATH), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class Postgres:
    port: int
    user: str
    password: str
    database: str

    def url(self, password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql+psycopg://{self.user}:{pw}@127.0.0.1:{self.port}/{self.database}"


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A throwaway cluster with password (scram) auth; as root, run as the postgres user."""
    bindir = postgres_bin()
    if bindir is None:
        raise FileNotFoundError("initdb")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = Path(tempfile.mkdtemp(prefix="trainflow-pg-", dir="/tmp"))
    base.chmod(0o755)
    data, pwfile = base / "data", base / "pw"
    server = Postgres(
        port=free_port(), user="trainflow", password="s3cret-pw-42", database="trainflow"
    )
    pwfile.write_text(server.password)
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", server.user, "--auth=scram-sha-256",
            f"--pwfile={pwfile}", "-E", "UTF8")  # fmt: skip
        run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
            f"-p {server.port} -c listen_addresses=127.0.0.1 -k {base}", "start")  # fmt: skip
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=server.port,
            user=server.user,
            password=server.password,
            dbname="postgres",
            autocommit=True,
        ) as c:
            c.execute(f"CREATE DATABASE {server.database}")  # fmt: skip
        yield server
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server on loopback; yields its endpoint URL."""
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, proc, "moto_server")
        requests.get(endpoint, timeout=5)
        yield endpoint
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@contextmanager
def bento_server(bundle_dir: Path, env: dict[str, str], workdir: Path) -> Iterator[str]:
    """The bundle the pipeline built, served on a free loopback port; yields the base URL."""
    with serve_bundle(bundle_dir, workdir, env) as server:
        yield server.url
