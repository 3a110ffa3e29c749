"""The same bytes on any x86-64 CPU: the pinned numerics hold whatever the shell sets, and a
family trains to the same bytes under every CPU this machine can be or pretend to be."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trainflow import numerics

X86 = platform.machine().lower() in ("x86_64", "amd64")
pytestmark = pytest.mark.skipif(not X86, reason="the pinned code paths are x86-64's")

# a shell that asks every library for its fastest, CPU-specific path and another thread count
HOSTILE_SHELL = {
    "ATEN_CPU_CAPABILITY": "avx512", "MKL_CBWR": "AUTO", "MKL_ENABLE_INSTRUCTIONS": "AVX512",
    "ONEDNN_MAX_CPU_ISA": "ALL", "NPY_DISABLE_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "SkylakeX",
    "OMP_NUM_THREADS": "7", "MKL_NUM_THREADS": "7", "MKL_DYNAMIC": "TRUE",
}  # fmt: skip

REPORT = """
import json, os, torch
from numpy._core._multiarray_umath import __cpu_features__
torch.ones(4).sum()  # ATen picks its kernels at the first op
from trainflow import numerics
numerics.check_torch()
print(json.dumps({"env": {k: os.environ.get(k) for k in numerics.settings()},
                  "torch": torch.backends.cpu.get_cpu_capability(),
                  "threads": torch.get_num_threads(), "numpy_v4": __cpu_features__["X86_V4"]}))
"""


def python(code: str, env: dict[str, str], prefix: tuple[str, ...] = ()) -> str:
    done = subprocess.run([*prefix, sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_stage_process_runs_the_pinned_numerics_whatever_the_shell_set():
    env = {**os.environ, **HOSTILE_SHELL}
    got = json.loads(python("import trainflow.stages.train\n" + REPORT, env))
    assert got["env"] == numerics.settings()
    assert got["env"]["ATEN_CPU_CAPABILITY"] == "avx2" and got["env"]["MKL_CBWR"] == "COMPATIBLE"
    assert got["torch"] == "AVX2" and got["threads"] == numerics.THREADS == 2
    assert got["numpy_v4"] is False  # numpy's AVX-512 dispatch off


def test_served_workers_take_their_thread_count_from_trainflow_threads():
    env = {**os.environ, **HOSTILE_SHELL, numerics.THREADS_ENV: "1"}
    got = json.loads(python("import trainflow\n" + REPORT, env))
    assert got["threads"] == 1 and got["env"]["OMP_NUM_THREADS"] == "1"
    done = subprocess.run([sys.executable, "-c", "import trainflow"], capture_output=True,
                          text=True, env={**os.environ, numerics.THREADS_ENV: "two"})  # fmt: skip
    assert done.returncode != 0 and "TRAINFLOW_THREADS='two': a positive whole number" in (
        done.stderr
    )


def test_torch_loaded_before_trainflow_with_other_kernels_is_refused():
    """Loaded first, torch keeps the kernels it chose: every stage checks before it starts."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    code = "import torch; torch.ones(3).sum()\nimport trainflow.stages.train\n" + REPORT
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "torch runs its DEFAULT kernels, not the pinned AVX2 ones" in done.stderr


def test_native_mode_leaves_each_library_its_own_choice():
    """TRAINFLOW_NUMERICS=native: only MKL's run-to-run mode; torch picks this CPU's best
    kernels (AVX-512 where the CPU has it) and no stage refuses them."""
    env = {**numerics.unpinned_environ(), "TRAINFLOW_NUMERICS": "native"}
    got = json.loads(python("import trainflow.stages.train\n" + REPORT, env))
    assert got["env"] == {"TRAINFLOW_NUMERICS": "native", "MKL_CBWR": "AUTO",
                          "MKL_DYNAMIC": "FALSE", "OMP_DYNAMIC": "FALSE"}  # fmt: skip
    best = "AVX512" if "avx512f" in numerics.cpu()["isa"] else "AVX2"
    assert got["torch"] == best


def test_a_child_that_should_choose_for_itself_gets_none_of_the_pinned_variables():
    shell = {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "2", "TRAINFLOW_NUMERICS": "x",
             "HOME": "/root", "PATH": "/bin"}  # fmt: skip
    assert numerics.unpinned_environ(shell) == {"HOME": "/root", "PATH": "/bin"}


def test_the_record_names_the_cpu_its_isa_and_the_settings():
    record = numerics.record()
    cpu = record["cpu"]
    assert cpu["model"] and cpu["cores"] >= 1 and "avx2" in cpu["isa"]
    assert record["settings"] == numerics.settings()
    assert set(cpu["isa"]) <= set(numerics.ISA_FLAGS)


# --- the same bytes on every CPU -----------------------------------------------------------

QEMU = shutil.which("qemu-x86_64")


def other_cpu() -> str:
    """A CPU model unlike this machine's for qemu's user-mode emulator to present (CPUID:
    vendor, ISA, caches; ~5-8x slower): an Intel Haswell (AVX2, no AVX-512), or on an Intel
    machine without AVX-512, an AMD EPYC Rome."""
    cpu = numerics.cpu()
    intel_avx2 = cpu["vendor"] == "GenuineIntel" and "avx512f" not in cpu["isa"]
    return "EPYC-Rome" if intel_avx2 else "Haswell-v4"


TRAIN_ALL = """
import sys
from trainflow.stages import run_stage
from trainflow.stages.train import train_family
run_stage("train", lambda: [train_family(f) for f in sys.argv[1:]])
"""

PROBE = """
import hashlib, torch
torch.manual_seed(0)
a = torch.randn(256, 300)
print(torch.backends.cpu.get_cpu_capability(),
      hashlib.sha256((a @ a.T).exp().numpy().tobytes()).hexdigest()[:16])
"""


def family_bytes(repo: Path, family: str) -> dict[str, str]:
    """sha256 of every file a family's training writes but its timing file."""
    out = {}
    for folder in (repo / "models/families" / family, repo / "metrics/train" / family):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            out[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


SHELL_FAMILIES = ["mlp", "gbdt"]


def cpu_capabilities() -> list[str]:
    """The ATen kernel sets this CPU can run."""
    isa = numerics.cpu()["isa"]
    return ["default", "avx2", *(["avx512"] if "avx512f" in isa else [])]


@pytest.mark.slow
def test_every_family_trains_to_the_same_bytes_on_every_cpu(pipeline_repo, tmp_path):
    """Each family, trained by `dvc repro` on this CPU, retrained in one process per CPU:
    this one (mlp and gbdt) with the shell asking each of its ATen capabilities (default,
    AVX2, AVX-512 where present, and MKL's own choice), and an emulated CPU of another model
    (`other_cpu`: AVX2 without AVX-512, another vendor for MKL; every family). Every model
    file and curve is the same bytes in each. The emulation is real: unpinned, that CPU runs
    other kernels, other bits."""
    from trainflow.families import FAMILIES

    if QEMU is None:
        pytest.fail("qemu-x86_64 missing: `make services` installs it (Debian qemu-user)")
    source, env, _ = pipeline_repo
    expected = {f: family_bytes(source, f) for f in FAMILIES}
    assert all(expected.values())
    env = numerics.unpinned_environ(env)
    emulated = other_cpu()
    here = python(PROBE, env).split()
    there = python(PROBE, env, (QEMU, "-cpu", emulated)).split()
    assert there[0] == "AVX2" and here != there, (here, there)  # another CPU: other bits

    # the shell's asks: one torch family and the GBDT (linear and resnet run mlp's torch code
    # paths); the other CPU: every family
    variants = {f"shell ATEN_CPU_CAPABILITY={c}": ((), {**HOSTILE_SHELL,
                                                        "ATEN_CPU_CAPABILITY": c}, SHELL_FAMILIES)
                for c in cpu_capabilities()}  # fmt: skip
    variants[f"emulated {emulated}"] = ((QEMU, "-cpu", emulated), {}, list(FAMILIES))
    for name, (prefix, shell, families) in variants.items():
        repo = tmp_path / name.replace(" ", "_").replace("=", "_")
        shutil.copytree(source, repo, symlinks=True)
        for folder in ("models/families", "metrics/train"):
            shutil.rmtree(repo / folder)
        done = subprocess.run([*prefix, sys.executable, "-c", TRAIN_ALL, *families], cwd=repo,
                              env={**env, **shell}, capture_output=True, text=True,
                              timeout=900)  # fmt: skip
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
        for family in families:
            assert family_bytes(repo, family) == expected[family], f"{name}: {family} differs"
