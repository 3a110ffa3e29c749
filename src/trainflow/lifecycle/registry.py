"""The model registry as the lifecycle commands use it: GTO versions and stages (git tags),
bundles fetched by DVC, retired versions refused.

GTO is the registry (`gto register / assign / deprecate`); this module reads its state with
`gto show --json` (deregistered versions included, marked inactive) and fetches a version's
bundle with `dvc get --rev <tag>`, which takes it from the repository's DVC cache or remote.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from trainflow.errors import StageError
from trainflow.tools import dvc, run_tool, tool


def model_artifact(repo: Path) -> tuple[str, str]:
    """The model artifact of dvc.yaml (`artifacts:` entry of type model): name and path."""
    try:
        artifacts = yaml.safe_load((repo / "dvc.yaml").read_text()).get("artifacts") or {}
    except FileNotFoundError:
        raise StageError(f"{repo}: no dvc.yaml (run from the project's root)") from None
    models = [(n, a["path"]) for n, a in artifacts.items() if a.get("type") == "model"]
    if len(models) != 1:
        raise StageError(f"dvc.yaml: expected one artifact of type model, found {len(models)}")
    return models[0]


@dataclass(frozen=True)
class Version:
    artifact: str
    version: str
    ref: str  # the registration tag, e.g. income-classifier@v1.0.0
    commit: str
    active: bool  # False: retired (deregistered by `gto deprecate`)
    stages: tuple[str, ...] = ()
    message: str = ""  # the registration's (or, retired, the deregistration's) message
    retired_at: str | None = field(default=None)


def versions(repo: Path, artifact: str) -> list[Version]:
    """Every registered version, newest first, retired ones included."""
    out = run_tool(
        [tool("gto"), "show", artifact, "--deprecated", "--json"], f"gto show {artifact}", cwd=repo
    )
    found = []
    for v in json.loads(out or "[]"):
        if not v.get("registrations") and not v.get("deregistrations"):
            continue  # a commit GTO discovered but nobody registered
        stages = tuple(s["stage"] for s in v.get("stages", []) if s.get("is_active", True))
        dereg = v.get("deregistrations") or []
        reg = v.get("registrations") or [{}]
        found.append(Version(
            artifact=artifact, version=v["version"], ref=f"{artifact}@{v['version']}",
            commit=v["commit_hexsha"], active=bool(v["is_active"]) and not dereg,
            stages=stages, message=(dereg[-1] if dereg else reg[-1]).get("message", "").strip(),
            retired_at=dereg[-1]["created_at"] if dereg else None,
        ))  # fmt: skip
    return found


def next_minor(known: list[Version]) -> str:
    """The version after the highest registered one (retired included): minor bumped."""
    from packaging.version import Version as Semver

    if not known:
        return "v1.0.0"
    top = max(Semver(v.version.lstrip("v")) for v in known)
    return f"v{top.major}.{top.minor + 1}.0"


def resolve(repo: Path, artifact: str, version: str | None = None,
            stage: str | None = None) -> Version:  # fmt: skip
    """The version asked for by number or by stage; a retired version is refused by name."""
    known = versions(repo, artifact)
    if version is not None:
        match = [v for v in known if v.version == version]
        if not match:
            raise StageError(f"{artifact} {version}: not registered (registered: "
                             f"{[v.version for v in known]})")  # fmt: skip
        if not match[0].active:
            why = match[0].message or "gto deprecate"
            active = [v.version for v in known if v.active]
            raise StageError(f"{artifact} {version} is retired ({why}); use an active version: "
                             f"{active}")  # fmt: skip
        return match[0]
    if stage is None:
        raise StageError("name a version or a stage")
    match = [v for v in known if v.active and stage in v.stages]
    if not match:
        raise StageError(f"{artifact}: no active version in stage {stage!r}")
    return match[0]


def fetch_bundle(repo: Path, version: Version, path: str, out: Path) -> Path:
    """The version's bundle archive (`dvc get --rev <tag>`: DVC cache or remote)."""
    run_tool([tool("dvc"), "get", str(repo.resolve()), path, "--rev", version.ref, "-o",
              str(out), "--force"], f"dvc get {version.ref}", cwd=repo)  # fmt: skip
    return out


def retire(repo: Path, artifact: str, version: str, message: str) -> Version:
    """Deregister a version (`gto deprecate NAME VERSION`): later fetches, scoring and serving
    of it are refused. A version in a stage is not retired: assign the stage elsewhere first."""
    target = resolve(repo, artifact, version=version)
    if target.stages:
        raise StageError(f"{artifact} {version} is in stage {list(target.stages)}: assign "
                         "another version there first (gto assign)")  # fmt: skip
    _write_tag(repo, ["deprecate", artifact, version, "-m", message],
               f"gto deprecate {artifact} {version}")  # fmt: skip
    return target


def model_folder(bundle: Path, into: Path) -> Path:
    """The model folder (weights, preprocessor, schema) of a .bento archive or a folder."""
    if bundle.is_dir():
        return bundle
    if not bundle.is_file():
        raise StageError(f"{bundle}: not found")
    try:
        with tarfile.open(bundle) as archive:
            members = [m for m in archive.getmembers()
                       if PurePosixPath(m.name).parts[:1] in (("models",), (".",))]  # fmt: skip
            archive.extractall(into, members=members, filter="data")
    except tarfile.TarError:
        raise StageError(f"{bundle}: not a bundle archive (.bento)") from None
    found = sorted((into / "models").glob("*/*/family.json"))
    if len(found) != 1:
        raise StageError(f"{bundle}: expected one model in the bundle, found {len(found)}")
    return found[0].parent


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def assign(repo: Path, artifact: str, version: str, stage: str, message: str) -> None:
    """Put `version` in `stage` (`gto assign`; --force: it may have been there before)."""
    resolve(repo, artifact, version=version)  # refuses a retired version
    _write_tag(repo, ["assign", artifact, "--version", version, "--stage", stage, "--force",
                      "-m", message], f"gto assign {artifact} {version} {stage}")  # fmt: skip


def register(repo: Path, artifact: str, version: str, message: str) -> None:
    """Register HEAD as `version` (`gto register`)."""
    _write_tag(repo, ["register", artifact, "HEAD", "--version", version, "-m", message],
               f"gto register {artifact} {version}")  # fmt: skip


def unassign(repo: Path, artifact: str, version: str, stage: str, message: str) -> None:
    """Take `version` out of `stage` (`gto deprecate NAME VERSION STAGE`)."""
    _write_tag(repo, ["deprecate", artifact, version, stage, "-m", message],
               f"gto deprecate {artifact} {version} {stage}")  # fmt: skip


def rollback(repo: Path, artifact: str, stage: str) -> tuple[str, str]:
    """Give `stage` back to the active version that held it before the current one (from
    `gto history`); returns (from, to)."""
    current = resolve(repo, artifact, stage=stage).version
    events = json.loads(
        run_tool([tool("gto"), "history", artifact, "--json"], f"gto history {artifact}", cwd=repo)
        or "[]"
    )
    active = {v.version for v in versions(repo, artifact) if v.active}
    held = [e["version"] for e in events if e["event"] == "assignment" and e["stage"] == stage]
    earlier = [v for v in held[held.index(current) + 1 :] if v != current and v in active]
    if not earlier:
        raise StageError(f"{artifact}: no earlier active version held {stage!r} to roll back to")
    assign(repo, artifact, earlier[0], stage, f"rollback of {stage}: {current} -> {earlier[0]}")
    return current, earlier[0]


def default_remote(repo: Path) -> str | None:
    """The name of the project's default DVC remote, or None."""
    done = subprocess.run([tool("dvc"), "remote", "default"], cwd=repo, capture_output=True,
                          text=True)  # fmt: skip
    return done.stdout.strip() or None if done.returncode == 0 else None


def promote_head(
    repo: Path, stage: str, message: str, local: bool = False
) -> tuple[str | None, str]:  # fmt: skip
    """Continuous delivery: register HEAD's bundle as the next version and put it in `stage`,
    only if HEAD's quality gate passed (else StageError) and its bundle is not the one the
    stage already serves (same content hash: nothing to do). Everything HEAD's dvc.lock names
    is pushed to the default DVC remote first, so the version a tag names can be fetched
    (`dvc artifacts get`) from anywhere; without a remote nothing is promoted, unless `local`
    (a registry for this checkout alone: the bundle stays in its DVC cache). Returns
    (version or None, why)."""
    gate_file = repo / "metrics/gate.json"
    bundle_file = repo / "metrics/bundle.json"
    if not gate_file.exists() or not bundle_file.exists():
        raise StageError("no metrics/gate.json or metrics/bundle.json: run dvc repro first")
    if not json.loads(gate_file.read_text()).get("gate"):
        raise StageError("the quality gate failed at HEAD: nothing promoted")
    content = json.loads(bundle_file.read_text())["bundle"]["content_sha256"]
    unsaved = subprocess.run(["git", "status", "--porcelain", "--", "dvc.lock", "metrics"],
                             cwd=repo, capture_output=True, text=True).stdout.strip()  # fmt: skip
    if unsaved:
        raise StageError("dvc.lock or metrics/ differ from HEAD's (this workspace holds another "
                         "run than the one a tag would name): commit the run to promote, or "
                         "`dvc pull` HEAD's outputs instead of rebuilding them")  # fmt: skip
    artifact, _ = model_artifact(repo)
    known = versions(repo, artifact)
    current = next((v for v in known if v.active and stage in v.stages), None)
    if current is not None:
        served = subprocess.run(["git", "show", f"{current.commit}:metrics/bundle.json"],
                                cwd=repo, capture_output=True, text=True)  # fmt: skip
        same = served.returncode == 0 and (
            json.loads(served.stdout)["bundle"]["content_sha256"] == content
        )
        if same:
            return None, f"{stage} already serves this bundle ({current.version})"
    remote = default_remote(repo)
    if remote is None and not local:
        raise StageError("no default DVC remote: a registered version's bundle must be "
                         "fetchable from one (make remote-s3 URL=s3://bucket/path; or --local "
                         "for this checkout alone); nothing promoted")  # fmt: skip
    if remote is not None:
        dvc(["push", "--remote", remote], repo)  # before any tag names the version
    version = next_minor(known)
    register(repo, artifact, version, message)
    assign(repo, artifact, version, stage, message)
    where = f"pushed to remote {remote!r}" if remote else "in this checkout's DVC cache only"
    return version, f"{version} {where}, registered at HEAD, assigned {stage}"


def _write_tag(repo: Path, args: list[str], what: str) -> None:
    """Run a gto command that writes a tag, once the clock has left the second of the newest
    tag. GTO orders a stage's events by their tags' times, which git keeps in whole seconds:
    two assignments in one second tie, and GTO then named the earlier version the stage's
    (v1.0.0 then v1.1.0 to prod within a second resolved prod to v1.0.0)."""
    newest = subprocess.run(
        ["git", "for-each-ref", "refs/tags", "--sort=-taggerdate", "--count=1",
         "--format=%(taggerdate:unix)"], cwd=repo, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if newest.isdigit():
        wait = int(newest) + 1 - time.time()
        if 0 < wait <= 1:  # a tag dated ahead (another clock, GIT_COMMITTER_DATE): no wait
            time.sleep(wait)
    run_tool([tool("gto"), *args], what, cwd=repo)
