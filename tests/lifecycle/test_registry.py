"""The registry helpers on a real git repository with GTO tags (DVC where promotion pushes)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import project_env
from trainflow.errors import StageError
from trainflow.lifecycle import registry
from trainflow.tools import run_tool, tool

ART = "income-classifier"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    env = project_env(tmp_path)
    for key in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.setenv(key, env[key])
    (tmp_path / "dvc.yaml").write_text(
        f"artifacts:\n  {ART}:\n    path: models/bundle/bundle.bento\n    type: model\n"
    )
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True,  # noqa: E731
                                    capture_output=True)  # fmt: skip
    git("init", "-q", "-b", "main")
    for n in range(3):
        git("commit", "-q", "--allow-empty", "-m", f"run {n}")
        if n == 0:
            git("add", "dvc.yaml")
            git("commit", "-q", "-m", "artifact")
        run_tool([tool("gto"), "register", ART, "--version", f"v1.{n}.0", "-m", f"run {n}"],
                 "register", cwd=tmp_path)  # fmt: skip
    return tmp_path


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_stages_resolve_roll_back_and_retired_versions_are_refused(repo):
    assert registry.model_artifact(repo) == (ART, "models/bundle/bundle.bento")
    assert registry.next_minor(registry.versions(repo, ART)) == "v1.3.0"
    registry.assign(repo, ART, "v1.0.0", "prod", "first")
    registry.assign(repo, ART, "v1.1.0", "prod", "second")
    registry.assign(repo, ART, "v1.2.0", "canary", "try")
    assert registry.resolve(repo, ART, stage="prod").version == "v1.1.0"
    assert registry.resolve(repo, ART, stage="canary").version == "v1.2.0"

    assert registry.rollback(repo, ART, "prod") == ("v1.1.0", "v1.0.0")
    assert registry.resolve(repo, ART, stage="prod").version == "v1.0.0"

    with pytest.raises(StageError, match=r"v1\.0\.0 is in stage \['prod'\]"):
        registry.retire(repo, ART, "v1.0.0", "old")
    registry.retire(repo, ART, "v1.1.0", "superseded by v1.2.0")
    with pytest.raises(StageError, match=r"v1\.1\.0 is retired \(superseded by v1\.2\.0\)"):
        registry.resolve(repo, ART, version="v1.1.0")
    with pytest.raises(StageError, match="is retired"):
        registry.assign(repo, ART, "v1.1.0", "prod", "back")
    listing = {v.version: v for v in registry.versions(repo, ART)}
    assert not listing["v1.1.0"].active and listing["v1.1.0"].retired_at
    assert listing["v1.0.0"].active and listing["v1.0.0"].stages == ("prod",)

    registry.unassign(repo, ART, "v1.2.0", "canary", "rolled back")
    with pytest.raises(StageError, match="no active version in stage 'canary'"):
        registry.resolve(repo, ART, stage="canary")
    with pytest.raises(StageError, match=r"v9\.0\.0: not registered"):
        registry.resolve(repo, ART, version="v9.0.0")


def _run_record(repo, gate: bool, content: str) -> None:
    (repo / "metrics").mkdir(exist_ok=True)
    (repo / "metrics/gate.json").write_text(f'{{"gate": {str(gate).lower()}}}')
    (repo / "metrics/bundle.json").write_text(f'{{"bundle": {{"content_sha256": "{content}"}}}}')
    subprocess.run(["git", "add", "metrics"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", f"run {content}"], cwd=repo, check=True)


def with_dvc_bundle(repo, remote: str | None) -> None:
    """DVC in the repo, the bundle a DVC-tracked file, and (if given) a default remote."""
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*dvc, "config", "core.analytics", "false"], cwd=repo, check=True)
    bundle = repo / "models/bundle/bundle.bento"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(b"a bundle's bytes")
    subprocess.run([*dvc, "add", "-q", str(bundle)], cwd=repo, check=True)
    if remote is not None:
        subprocess.run([*dvc, "remote", "add", "-d", "store", remote], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "dvc"], cwd=repo, check=True)


def in_remote(store: Path, data: bytes) -> bool:
    import hashlib

    md5 = hashlib.md5(data).hexdigest()
    return (store / "files/md5" / md5[:2] / md5[2:]).is_file()


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_promote_head_only_with_a_remote_and_pushes_before_it_tags(repo, tmp_path):
    """No default remote: nothing registered. A remote that refuses the push: nothing
    registered either. A working one: the bundle is on it before the version's tag exists."""
    with_dvc_bundle(repo, remote=None)
    _run_record(repo, gate=True, content="d" * 64)
    with pytest.raises(StageError, match="no default DVC remote"):
        registry.promote_head(repo, "prod", "cd")
    assert registry.next_minor(registry.versions(repo, ART)) == "v1.3.0"  # nothing registered
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the remote's folder should be")
    subprocess.run([sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(blocked)],
                   cwd=repo, check=True)  # fmt: skip
    with pytest.raises(StageError, match="dvc push"):
        registry.promote_head(repo, "prod", "cd")
    assert registry.next_minor(registry.versions(repo, ART)) == "v1.3.0"
    store = tmp_path / "store"
    subprocess.run([sys.executable, "-m", "dvc", "remote", "modify", "store", "url",
                    str(store)], cwd=repo, check=True)  # fmt: skip
    (repo / "dvc.lock").write_text("schema: '2.0'\n")  # a rebuilt run, not committed
    with pytest.raises(StageError, match="commit the run to promote"):
        registry.promote_head(repo, "prod", "cd")
    (repo / "dvc.lock").unlink()
    version, why = registry.promote_head(repo, "prod", "cd")
    assert version == "v1.3.0" and "pushed to remote 'store'" in why
    assert in_remote(store, b"a bundle's bytes")
    _run_record(repo, gate=True, content="e" * 64)
    subprocess.run([sys.executable, "-m", "dvc", "remote", "remove", "store"], cwd=repo,
                   check=True)  # fmt: skip
    assert registry.promote_head(repo, "prod", "local", local=True) == (
        "v1.4.0",
        "v1.4.0 in this checkout's DVC cache only, registered at HEAD, assigned prod",
    )  # asked for: a registry of this checkout alone


@pytest.mark.slow  # a chain of git/dvc/gto/pytest subprocesses
def test_promote_head_only_with_a_passed_gate_and_a_new_bundle(repo, tmp_path):
    with_dvc_bundle(repo, remote=str(tmp_path / "store"))
    _run_record(repo, gate=False, content="a" * 64)
    with pytest.raises(StageError, match="quality gate failed"):
        registry.promote_head(repo, "prod", "cd")
    assert registry.next_minor(registry.versions(repo, ART)) == "v1.3.0"  # nothing registered
    _run_record(repo, gate=True, content="b" * 64)
    assert registry.promote_head(repo, "prod", "cd") == (
        "v1.3.0",
        "v1.3.0 pushed to remote 'store', registered at HEAD, assigned prod",
    )
    assert registry.resolve(repo, ART, stage="prod").version == "v1.3.0"
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "docs"], cwd=repo, check=True)
    assert registry.promote_head(repo, "prod", "cd") == (
        None, "prod already serves this bundle (v1.3.0)")  # fmt: skip
    _run_record(repo, gate=True, content="c" * 64)
    assert registry.promote_head(repo, "prod", "cd")[0] == "v1.4.0"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip
    assert registry.resolve(repo, ART, stage="prod").commit == head
