"""`trainflow serve`: serve registry versions by number or stage, alone or two behind one
endpoint (canary / shadow, params.yaml `lifecycle.rollout`).

Each version's bundle is fetched by its registry tag (`dvc get`, retired versions refused) and
imported into a BentoML store of its own; the champion's bento serves, and with a challenger
its model is loaded from the same store (serving/rollout.py). Answers carry the registry
version that gave them; the prediction and feedback logs go to `lifecycle.logs`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from trainflow.errors import StageError
from trainflow.lifecycle import registry
from trainflow.params import RolloutParams
from trainflow.serving.predlog import LOG_DIR_ENV
from trainflow.serving.rollout import ROLLOUT_ENV, VERSION_ENV

WORK = Path(".trainflow/serve")


@dataclass(frozen=True)
class Plan:
    cmd: list[str]
    env: dict[str, str]
    champion: registry.Version
    challenger: registry.Version | None
    mode: str | None


def _bentoml(args: list[str], env: dict[str, str], what: str) -> str:
    exe = str(Path(sys.executable).with_name("bentoml"))
    done = subprocess.run([exe, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise StageError(f"{what}: {done.stderr.strip()[-600:]}")
    return done.stdout


def _import(bundle: Path, env: dict[str, str]) -> tuple[str, str]:
    """Import a .bento into the store; its bento tag and its model's tag (from bento.yaml)."""
    import tarfile

    import yaml

    try:
        with tarfile.open(bundle) as archive:
            meta = archive.extractfile("./bento.yaml")
            bento = yaml.safe_load(meta.read()) if meta else {}
    except (tarfile.TarError, KeyError):
        raise StageError(f"{bundle}: not a bundle archive (.bento)") from None
    models = [m for svc in bento.get("services") or [] for m in svc.get("models") or []]
    if len(models) != 1:
        raise StageError(f"{bundle}: expected one model in the bento, found {len(models)}")
    _bentoml(["import", str(bundle.resolve())], env, f"bentoml import {bundle}")
    return f"{bento['name']}:{bento['version']}", models[0]["tag"]


def plan(
    repo: Path, version: str | None, stage: str | None, challenger: str | None,
    challenger_stage: str | None, rollout: RolloutParams, logs: Path, port: int,
    host: str = "127.0.0.1", work: Path | None = None, mode: str | None = None,
) -> Plan:  # fmt: skip
    """Fetch and import the versions, and say how to start the server (command + env);
    `mode` overrides lifecycle.rollout.mode."""
    if mode is not None:
        rollout = rollout.model_copy(update={"mode": mode})
    artifact, path = registry.model_artifact(repo)
    champion = registry.resolve(repo, artifact, version=version, stage=stage)
    second = None
    if challenger or challenger_stage:
        second = registry.resolve(repo, artifact, version=challenger, stage=challenger_stage)
        if second.version == champion.version:
            raise StageError(f"{artifact} {champion.version} is both champion and challenger")
    work = (work or repo / WORK).resolve()
    shutil.rmtree(work, ignore_errors=True)  # a store of its own: never a stale same-tag bento
    work.mkdir(parents=True)
    env = {**os.environ, "BENTOML_HOME": str(work / "bentoml_home"),
           "BENTOML_DO_NOT_TRACK": "True", LOG_DIR_ENV: str(logs.resolve()),
           VERSION_ENV: champion.version}  # fmt: skip
    bento_tag, _ = _import(registry.fetch_bundle(repo, champion, path, work / "champion.bento"),
                           env)  # fmt: skip
    if second is not None:
        _, model_tag = _import(registry.fetch_bundle(repo, second, path,
                                                     work / "challenger.bento"), env)  # fmt: skip
        settings = {"mode": rollout.mode, "share": rollout.share,
                    "client_header": rollout.client_header,
                    "champion_version": champion.version, "challenger_version": second.version,
                    "challenger_model_tag": model_tag}  # fmt: skip
        (work / "rollout.json").write_text(json.dumps(settings, indent=2))
        env[ROLLOUT_ENV] = str(work / "rollout.json")
    exe = str(Path(sys.executable).with_name("bentoml"))
    cmd = [exe, "serve", bento_tag, "--host", host, "--port", str(port)]
    return Plan(cmd, env, champion, second, rollout.mode if second else None)


@contextmanager
def running(ready: Plan, log_path: Path, ready_s: float = 120) -> Iterator[str]:
    """Start the planned server, wait until /readyz answers, yield its URL; stopped on exit,
    also on failure."""
    from trainflow.loadtest import server_process

    with server_process(ready.cmd, ready.env, log_path, ready_s) as (url, _):
        yield url
