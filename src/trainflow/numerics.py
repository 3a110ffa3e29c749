"""The same bytes on any x86-64 CPU: every numeric library's code path and thread count pinned.

Left to themselves, torch, MKL, oneDNN, numpy, OpenBLAS and Arrow each pick their kernels by
the CPU they find (AVX2, AVX-512, AMX; Intel's or AMD's branch), and torch, MKL and OpenMP
split reductions by the number of cores: a network trained on another CPU model or core count
ends with other last bits, and early stopping can take another path from there. Importing
`trainflow` (every stage, the served model and the CLI do it before any of those libraries
loads) overrides the variables below, whatever the shell set, so every machine with AVX2 runs
the same instructions in the same order:

- ATen's own kernels at AVX2 (`ATEN_CPU_CAPABILITY`);
- MKL (matrix products, the vector math behind exp / log / sin / tanh) on its COMPATIBLE branch,
  the one Intel documents as giving the same results on Intel and non-Intel CPUs
  (`MKL_CBWR`); its AVX2 branch gave other exp bits on an Intel CPU than on an AMD one;
- oneDNN (convolutions) capped at AVX2 (`ONEDNN_MAX_CPU_ISA`);
- numpy's AVX-512 dispatch off (`NPY_DISABLE_CPU_FEATURES`), OpenBLAS on its Haswell kernels
  (`OPENBLAS_CORETYPE`), Arrow's compute kernels at AVX2 (`ARROW_USER_SIMD_LEVEL`);
- one compute thread count for every library (`THREADS`), never lowered under load.

One torch path has no portable setting: `torch.sqrt` on CPU is MKL's vector square root (VML,
high-accuracy mode), which is not correctly rounded and rounds differently on different CPUs
(benchmarks/cpu_paths.py measures it). trainflow's own square roots avoid it: the networks
train with the fused AdamW kernel (the exact IEEE instruction), the text baseline's TF-IDF
norm is an `rsqrt`, the val/rmse curve a `math.sqrt`. One use remains inside torch: L-BFGS's
strong-Wolfe line search (the linear family) takes it when it interpolates a step, which no
run on Adult has done (docs/reproducibility.md).

Two variables of trainflow's own change this, and the lineage and `trainflow verify` record
whatever ran: `TRAINFLOW_THREADS` (the served model's workers compute on
package.threads_per_worker) and `TRAINFLOW_NUMERICS=native`, which lets every library pick
its fastest path for this CPU, as before this module existed: results then reproduce on this
CPU model only (benchmarks/numerics_cost.py measures what the portable paths cost).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

from trainflow.errors import StageError

THREADS = 2
"""Compute threads of every stage: the result depends on it (how reductions are split)."""
THREADS_ENV = "TRAINFLOW_THREADS"
MODE_ENV = "TRAINFLOW_NUMERICS"
EMULATED_ENV = "TRAINFLOW_EMULATED_CPU"  # set by `trainflow verify --emulate-cpu`
MODES = ("portable", "native")

PORTABLE_X86 = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    # numpy 2.x's dispatch groups above AVX2 (X86_V3); naming one a CPU lacks is harmless
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
    "ARROW_USER_SIMD_LEVEL": "AVX2",
}
"""Code paths every x86-64 CPU with AVX2 runs identically."""

FIXED_THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
NEVER_DYNAMIC = {"MKL_DYNAMIC": "FALSE", "OMP_DYNAMIC": "FALSE"}

# CPU flags that decide which kernels a library would pick by itself: recorded, not used
ISA_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")  # fmt: skip


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "x86", "i686")


def threads() -> int:
    """The compute thread count: THREADS, or TRAINFLOW_THREADS where set (the served model's
    workers)."""
    value = os.environ.get(THREADS_ENV, "")
    if not value:
        return THREADS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{THREADS_ENV}={value!r}: a positive whole number of threads")
    return int(value)


def mode() -> str:
    """portable (the default) or native (TRAINFLOW_NUMERICS)."""
    value = os.environ.get(MODE_ENV, "") or MODES[0]
    if value not in MODES:
        raise ValueError(f"{MODE_ENV}={value!r}: one of {', '.join(MODES)}")
    return value


def settings() -> dict[str, str]:
    """The variables this process runs under (what `apply` sets). Native: only MKL's run-to-run
    reproducible mode on this CPU's own branch; the shell's variables are left alone."""
    if mode() == "native":
        return {MODE_ENV: "native", "MKL_CBWR": "AUTO", **NEVER_DYNAMIC}
    count = str(threads())
    pinned = dict(PORTABLE_X86) if is_x86() else {}
    return {**pinned, **dict.fromkeys(FIXED_THREADS, count), **NEVER_DYNAMIC}


def unpinned_environ(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) without any variable `apply` may set: the environment
    of a child that should choose for itself (TRAINFLOW_NUMERICS=native, a library's own
    default), since the values this process pinned would otherwise carry over."""
    names = {*PORTABLE_X86, *FIXED_THREADS, *NEVER_DYNAMIC, MODE_ENV}
    return {k: v for k, v in (os.environ if env is None else env).items() if k not in names}


def apply() -> dict[str, str]:
    """Set every variable, overriding the shell's: call before torch, numpy, LightGBM or
    pyarrow load their native libraries (importing trainflow does)."""
    values = settings()
    os.environ.update(values)
    return values


def cpu() -> dict[str, Any]:
    """This machine's CPU: model, vendor, the ISA flags that decide kernels, usable cores."""
    model, vendor, flags = platform.processor() or platform.machine(), "", set()
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name":
                model = value
            elif key == "vendor_id":
                vendor = value
            elif key == "flags" and not flags:
                flags = set(value.split())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    found = {"model": model, "vendor": vendor, "machine": platform.machine(),
             "isa": [f for f in ISA_FLAGS if f in flags], "cores": usable or 1}  # fmt: skip
    emulated = os.environ.get(EMULATED_ENV)
    if emulated:  # /proc/cpuinfo is the host's; the process sees the emulated CPU's CPUID
        found |= {"model": f"{emulated} emulated by qemu on {model}", "vendor": "", "isa": []}
    return found


def effective() -> dict[str, Any]:
    """What the loaded libraries actually chose (those loaded in this process only)."""
    found: dict[str, Any] = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        found["torch_capability"] = torch.backends.cpu.get_cpu_capability()
        found["torch_threads"] = torch.get_num_threads()
    return found


def record() -> dict[str, Any]:
    """For lineage and timing files: the CPU, the pinned settings and the effective choices."""
    return {"cpu": cpu(), "settings": settings(), **effective()}


def check_torch() -> None:
    """Fail where torch runs other kernels than the pinned ones: it was loaded (and chose its
    path) before trainflow set the variables, or the CPU lacks AVX2."""
    torch = sys.modules.get("torch")
    if torch is None or mode() == "native" or not is_x86() or "avx2" not in cpu()["isa"]:
        return  # native, or a CPU without AVX2, runs what it can: the lineage records which
    chose, want = torch.backends.cpu.get_cpu_capability(), PORTABLE_X86["ATEN_CPU_CAPABILITY"]
    if chose.lower() != want:
        raise StageError(
            f"torch runs its {chose} kernels, not the pinned {want.upper()} ones: import "
            "trainflow before torch (results would not match dvc.lock on other CPUs)"
        )
    if torch.get_num_threads() != threads():
        torch.set_num_threads(threads())
