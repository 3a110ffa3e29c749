"""`trainflow verify`: proof of reproduction.

Clones the repository at a revision into a fresh directory, checks that this environment is the
locked one, reruns every stage (`dvc repro --force`), and compares every output's hash in the
new dvc.lock, and every metric in the metrics files, with what the revision recorded. Prints a
table, one row per output, and exits non-zero on any difference.

Two tolerances are declared, each with its reason. metrics/speed/ holds fit and inference
timings of the machine and the moment, which no rerun reproduces, and reports/leaderboard.md
shows them beside the (verified) leaderboard values: exempt. The bundle's model card
carries the git commit it was built at and that latency: its bytes differ on every rebuild, so
models/bundle counts as reproduced when its content hash (metrics/bundle.json: every file of the
archive, the card without its lineage section, lineage.json left out) is identical. Everything
else must be bit-identical on a CPU.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from trainflow import STAGES, numerics, paths
from trainflow.errors import StageError
from trainflow.tools import tool

log = logging.getLogger("trainflow.verify")

TOLERATED = {
    f"{paths.SPEED_DIR}/": "fit and inference timings of this machine and run",
    str(paths.LEADERBOARD_TABLE): "the leaderboard table shows those timings",
}
"""Outputs exempt from the comparison, by path or folder prefix (ending in /), with why."""


def tolerated(path: str) -> str | None:
    """Why `path` is exempt, or None."""
    for prefix, reason in TOLERATED.items():
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return reason
    return None


# output -> (metrics file, key): the output may differ only where that content hash says so
STAMPED = {str(paths.BUNDLE_DIR): (str(paths.BUNDLE_METRICS), "bundle.content_sha256")}
STAMP_NOTE = "only the card's lineage differs: content_sha256 identical"


@dataclass(frozen=True)
class Row:
    stage: str
    path: str
    recorded: str
    reproduced: str
    status: str  # identical | DIFFERENT | missing | tolerated


def lock_outputs(lock: dict) -> dict[str, tuple[str, str]]:
    """{output path: (stage, md5)} from a parsed dvc.lock."""
    outs = {}
    for stage, entry in lock.get("stages", {}).items():
        for out in entry.get("outs", []):
            outs[out["path"]] = (stage, out.get("md5", ""))
    return outs


def current_stages(lock: dict, stages: set[str]) -> tuple[dict, list[str]]:
    """`lock` with only the entries of `stages` (the revision's pipeline), and the names of
    the others: dvc.lock keeps the entry of a stage the pipeline no longer has (a family taken
    out of params.yaml `families`), which no rerun reproduces."""
    entries = lock.get("stages", {})
    kept = {name: entry for name, entry in entries.items() if name in stages}
    return {**lock, "stages": kept}, sorted(set(entries) - stages)


def compare_outputs(recorded: dict, reproduced: dict) -> list[Row]:
    """One row per output either lock names, in pipeline order (dvc.lock keeps the order its
    stages were first run in)."""
    rec, new = lock_outputs(recorded), lock_outputs(reproduced)
    known = [*rec, *(p for p in new if p not in rec)]
    rows = []
    for path in sorted(known, key=lambda p: _pipeline_position((rec.get(p) or new[p])[0])):
        stage, before = rec.get(path, (new.get(path, ("?", ""))[0], ""))
        after = new.get(path, (stage, ""))[1]
        if tolerated(path):
            status = "tolerated"
        elif path in STAMPED and before and after and before != after:
            status = "stamped"  # settled by its content hash: see settle_stamped
        elif not before or not after:
            status = "missing"
        else:
            status = "identical" if before == after else "DIFFERENT"
        rows.append(Row(stage, path, before, after, status))
    return rows


def _pipeline_position(stage: str) -> int:
    """Where a stage (`train@mlp`: a foreach variant of `train`) runs in the pipeline."""
    base = stage.partition("@")[0]
    return STAGES.index(base) if base in STAGES else len(STAGES)


def settle_stamped(rows: list[Row], recorded: dict, reproduced: dict) -> list[Row]:
    """A stamped output whose bytes differ is identical in content when its content hash is
    (and the hash's own comparison is in the metric diffs if not); else it is DIFFERENT."""
    settled = []
    for row in rows:
        if row.status == "stamped":
            name, key = STAMPED[row.path]
            before, after = (flatten(m.get(name, {})).get(key) for m in (recorded, reproduced))
            same = before is not None and before == after
            row = Row(row.stage, row.path, row.recorded, row.reproduced,
                      "identical*" if same else "DIFFERENT")  # fmt: skip
        settled.append(row)
    return settled


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: value}


def compare_metrics(recorded: dict[str, Any], reproduced: dict[str, Any]) -> list[str]:
    """'file: key recorded -> reproduced' for every metric value that differs."""
    diffs = []
    for name in sorted(set(recorded) | set(reproduced)):
        if tolerated(name):
            continue
        before, after = flatten(recorded.get(name, {})), flatten(reproduced.get(name, {}))
        for key in sorted(set(before) | set(after)):
            if before.get(key, "<absent>") != after.get(key, "<absent>"):
                diffs.append(f"{name}: {key} {before.get(key, '<absent>')!r} -> "
                             f"{after.get(key, '<absent>')!r}")  # fmt: skip
    return diffs


def environment_drift(lock_text: str) -> list[str]:
    """'package: locked X, installed Y' for each locked package this environment differs on
    (local version labels such as torch's +cpu are not a difference)."""
    drift = []
    for line in lock_text.splitlines():
        line = line.split("#")[0].strip()
        if "==" not in line:
            continue
        name, version = (part.strip() for part in line.split("==", 1))
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            drift.append(f"{name}: locked {version}, not installed")
            continue
        if installed.split("+")[0] != version.split("+")[0]:
            drift.append(f"{name}: locked {version}, installed {installed}")
    return drift


def record_files(tracked: str) -> list[str]:
    """The JSON records a run leaves in git (`git ls-files metrics` output): metrics, reports
    of counts, dvclive summaries. Every value in them is compared."""
    prefix = f"{paths.METRICS_DIR}/"
    return sorted(line for line in tracked.splitlines()
                  if line.startswith(prefix) and line.endswith(".json"))  # fmt: skip


def render(rows: list[Row], metric_diffs: list[str]) -> str:
    width = max(len(r.path) for r in rows)
    lines = [f"{'stage':18s} {'output':{width}s} {'recorded':10s} {'reproduced':10s} result"]
    for r in rows:
        note = {"tolerated": f" ({tolerated(r.path)})",
                "identical*": f" ({STAMP_NOTE})"}.get(r.status, "")  # fmt: skip
        lines.append(f"{r.stage:18s} {r.path:{width}s} {r.recorded[:8] or '-':10s} "
                     f"{r.reproduced[:8] or '-':10s} {r.status}{note}")  # fmt: skip
    checked = sum(r.status != "tolerated" for r in rows)
    same = sum(r.status in ("identical", "identical*") for r in rows)
    lines.append(f"\n{same} of {checked} outputs identical; "
                 f"{len(metric_diffs)} metric values differ")  # fmt: skip
    lines += [f"  {d}" for d in metric_diffs]
    return "\n".join(lines)


def machine(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The machine record a run's train timing files hold (trainflow.numerics.record)."""
    found = [m["machine"] for name, m in sorted(metrics.items())
             if name.startswith(f"{paths.SPEED_DIR}/train_") and "machine" in m]  # fmt: skip
    # a network's stage, where torch ran and recorded the kernels it took, before the trees'
    found.sort(key=lambda m: "torch_capability" not in m)
    return found[0] if found else None


def machines_note(recorded: dict[str, Any], reproduced: dict[str, Any]) -> str:
    """Which CPU and numerics settings the record and the rerun trained under (the train
    stages' timing files hold them), and a warning where the settings differ: then the
    networks' last bits may too (trainflow.numerics)."""

    def line(label: str, m: dict[str, Any] | None) -> str:
        if m is None:
            return f"{label}: not recorded (a run from before trainflow pinned its numerics)"
        cpu, threads = m["cpu"], m["settings"].get("OMP_NUM_THREADS", "?")
        isa = " ".join(cpu["isa"]) or "-"
        return (
            f"{label}: {cpu['model']} ({cpu['vendor'] or cpu['machine']}; {isa}), "
            f"torch {m.get('torch_capability', '?')} kernels, {threads} threads"
        )

    before, after = machine(recorded), machine(reproduced)
    lines = [line("recorded on", before), line("rerun on   ", after)]
    if before is None or after is None or before["settings"] != after["settings"]:
        lines.append(
            "note: the two ran under other numerics settings (trainflow.numerics): "
            "networks may differ in their last bits (docs/reproducibility.md)"
        )
    elif before["settings"].get("TRAINFLOW_NUMERICS") == "native" and (
        before["cpu"]["model"] != after["cpu"]["model"]
    ):
        lines.append("note: TRAINFLOW_NUMERICS=native on two CPU models: each library chose "
                     "its own kernels, so networks may differ in their last bits")  # fmt: skip
    return "\n".join(lines)


def _git(args: list[str], cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StageError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def emulated_python(folder: Path, cpu_model: str) -> Path:
    """A folder whose `python` runs this Python under qemu's user-mode emulation of
    `cpu_model` (`qemu-x86_64 -cpu help` lists them): put first on PATH, it runs every stage
    as on that CPU (its CPUID: vendor, instruction sets, caches), so one machine checks
    another CPU model's results."""
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        raise StageError("--emulate-cpu needs qemu-x86_64 (Debian: apt-get install qemu-user)")
    listed = subprocess.run([qemu, "-cpu", "help"], capture_output=True, text=True).stdout
    if not any(line.split()[1:2] == [cpu_model] for line in listed.splitlines()):
        raise StageError(f"--emulate-cpu {cpu_model}: not a CPU model of {qemu} "
                         "(`qemu-x86_64 -cpu help` lists them)")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    script = (f'#!/bin/sh\nexport {numerics.EMULATED_ENV}="{cpu_model}"\n'
              f'exec "{qemu}" -cpu "{cpu_model}" "{sys.executable}" "$@"\n')  # fmt: skip
    for name in ("python", "python3"):
        (folder / name).write_text(script)
        (folder / name).chmod(0o755)
    return folder


def reproduce(
    source: str, rev: str, workdir: Path, emulate_cpu: str | None = None
) -> tuple[list[Row], list[str], str | None, dict[str, Any]]:  # fmt: skip
    """Clone `source` at `rev` into `workdir`, rerun the pipeline (every stage under an
    emulated `emulate_cpu` if given), compare with the record."""
    _git(["clone", "--quiet", source, str(workdir)], Path.cwd())
    _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", rev], workdir)
    drift = environment_drift((workdir / "requirements.lock").read_text())
    if drift:
        raise StageError(
            f"not the locked environment ({len(drift)} packages differ, e.g. {drift[0]}): "
            "run `make setup` and verify with .venv/bin/trainflow"
        )
    # fetched (not tracked) source data: copy it from a local source checkout, else fetch it;
    # either way ingest's recorded dependency hash is compared below
    local_external = Path(source) / "data/external"
    if local_external.is_dir():
        shutil.copytree(local_external, workdir / "data/external", dirs_exist_ok=True)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if emulate_cpu:  # dvc runs each stage's `python -m trainflow.stages...` through PATH
        shim = emulated_python(workdir.parent / f"{workdir.name}-emulated-bin", emulate_cpu)
        path = f"{shim}{os.pathsep}{path}"
    # the clone's own code at `rev`, not the (editable) install this command runs from
    python_path = os.pathsep.join(filter(None, [str(workdir / "src"),
                                                os.environ.get("PYTHONPATH")]))  # fmt: skip
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "BENTOML_DO_NOT_TRACK": "True",
           "BENTOML_HOME": str(workdir / ".bentoml"), "CI": os.environ.get("CI", "true"),
           "PATH": path, "PYTHONPATH": python_path}  # fmt: skip
    steps = [["trainflow", "fetch-data"], ["dvc", "repro", "--force"]]
    log_path = workdir.parent / f"{workdir.name}.log"
    with open(log_path, "w") as log_file:
        for step in steps:
            log.info("$ %s   (in %s; output: %s)", " ".join(step), workdir, log_path)
            done = subprocess.run(step, cwd=workdir, env=env, stdout=log_file,
                                  stderr=subprocess.STDOUT)  # fmt: skip
            if done.returncode != 0:
                tail = "\n".join(log_path.read_text().splitlines()[-15:])
                raise StageError(f"{' '.join(step)} failed in the clone:\n{tail}")
    return compare_clone(workdir, env)


def compare_clone(
    workdir: Path, env: dict[str, str] | None = None
) -> tuple[list[Row], list[str], str | None, dict[str, Any]]:  # fmt: skip
    """A rerun clone's outputs and records against what its HEAD recorded: rows, metric
    differences, notes and both machines."""
    recorded_lock = yaml.safe_load(_git(["show", "HEAD:dvc.lock"], workdir))
    metric_names = record_files(_git(["ls-files", str(paths.METRICS_DIR)], workdir))
    recorded_metrics = {
        name: json.loads(_git(["show", f"HEAD:{name}"], workdir)) for name in metric_names
    }
    reproduced_lock = yaml.safe_load((workdir / "dvc.lock").read_text())
    listed = subprocess.run([tool("dvc"), "stage", "list", "--name-only"], cwd=workdir,
                            env=env, capture_output=True, text=True, check=True)  # fmt: skip
    stages = set(listed.stdout.split())
    recorded_lock, stale = current_stages(recorded_lock, stages)
    reproduced_lock, _ = current_stages(reproduced_lock, stages)
    reproduced_metrics = {
        name: json.loads((workdir / name).read_text())
        for name in metric_names if (workdir / name).exists()
    }  # fmt: skip
    notes = [machines_note(recorded_metrics, reproduced_metrics)]
    if stale:
        notes.append(f"note: dvc.lock also records {', '.join(stale)}, not stages of this "
                     "revision's pipeline: left out (nothing reruns them)")  # fmt: skip
    rows = settle_stamped(compare_outputs(recorded_lock, reproduced_lock), recorded_metrics,
                          reproduced_metrics)  # fmt: skip
    rows += [Row(stage, f"{dep} (input)", a, b, "DIFFERENT")
             for stage, dep, a, b in changed_inputs(recorded_lock, reproduced_lock)]  # fmt: skip
    machines = {
        "recorded": machine(recorded_metrics),
        "rerun": machine(reproduced_metrics),
        "commit": _git(["rev-parse", "--short=12", "HEAD"], workdir).strip(),
    }
    return (rows, compare_metrics(recorded_metrics, reproduced_metrics),
            "\n".join(n for n in notes if n) or None, machines)  # fmt: skip


def changed_inputs(recorded: dict, reproduced: dict) -> list[tuple[str, str, str, str]]:
    """Dependencies whose hash differs: the rerun did not start from the recorded inputs."""
    changed = []
    for stage, entry in recorded.get("stages", {}).items():
        new = {d["path"]: d.get("md5", "") for d in
               reproduced.get("stages", {}).get(stage, {}).get("deps", [])}  # fmt: skip
        for dep in entry.get("deps", []):
            if tolerated(dep["path"]):  # an exempt output read by a later stage
                continue
            if new.get(dep["path"], "") != dep.get("md5", ""):
                changed.append((stage, dep["path"], dep.get("md5", ""), new.get(dep["path"], "")))
    return changed


def main(
    rev: str, source: str, workdir: Path | None, keep: bool, emulate_cpu: str | None = None,
    record: str | None = None,
) -> None:  # fmt: skip
    """Reproduce `rev`, print the table; `record`: also write the outcome as
    benchmarks/results/<record>.json (figures the docs quote)."""
    made = workdir is None
    root = Path(tempfile.mkdtemp(prefix="trainflow-verify-")) if made else workdir
    assert root is not None
    clone = root / "clone"
    if clone.exists():
        raise StageError(f"{clone}: exists; give an empty --workdir")
    source = str(Path(source).resolve()) if Path(source).exists() else source
    started = time.perf_counter()
    try:
        rows, metric_diffs, note, machines = reproduce(source, rev, clone, emulate_cpu)
    finally:
        if made and not keep:
            shutil.rmtree(root, ignore_errors=True)
    print(render(rows, metric_diffs))
    if note:
        print(note)
    bad = [r for r in rows if r.status in ("DIFFERENT", "missing")]
    if record:
        printed = render(rows, metric_diffs) + (f"\n{note}" if note else "")
        write_record(record, rows, metric_diffs, machines, time.perf_counter() - started,
                     machines["commit"], emulate_cpu, printed)  # fmt: skip
    if bad or metric_diffs:
        raise StageError(f"not reproduced: {len(bad)} outputs and {len(metric_diffs)} metric "
                         f"values differ from {rev}'s record")  # fmt: skip
    declared = any(r.status in ("identical*", "tolerated") for r in rows)
    but = ", but for the declared exceptions marked above" if declared else ""
    print(f"reproduced: every output of {rev} is bit-identical{but}")


def write_record(name: str, rows: list[Row], metric_diffs: list[str], machines: dict[str, Any],
                 seconds: float | None, rev: str, emulate_cpu: str | None,
                 printed: str) -> None:  # fmt: skip
    """benchmarks/results/<name>.json: the outcome, `rev` the verified commit, `seconds` the
    whole rerun's (None where it is not known)."""
    from trainflow.figures.record import write_result

    def model(m: dict[str, Any] | None) -> str:
        return m["cpu"]["model"] if m else "not recorded"

    command = ["trainflow", "verify", *(["--emulate-cpu", emulate_cpu] if emulate_cpu else [])]
    write_result(name, {
        "rev": rev, "checked": sum(r.status != "tolerated" for r in rows),
        "identical": sum(r.status in ("identical", "identical*") for r in rows),
        "tolerated": sum(r.status == "tolerated" for r in rows),
        "different": [r.path for r in rows if r.status in ("DIFFERENT", "missing")],
        "metric_differences": metric_diffs,
        "seconds": None if seconds is None else round(seconds, 1),
        "recorded_on": model(machines["recorded"]), "rerun_on": model(machines["rerun"]),
        "command": " ".join(command), "table": printed,
    }, command)  # fmt: skip
