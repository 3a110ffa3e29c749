"""Which numeric paths give other bits on another CPU: each op run here and under qemu's
emulation of another CPU model (an Intel Haswell: AVX2, no AVX-512; or, on such a machine, an
AMD EPYC Rome), once with each library's own choice of kernels (TRAINFLOW_NUMERICS=native)
and once with trainflow's portable settings. The ops are the ones the pipeline runs: matrix
products (MKL), MKL's vector math (exp, log, sin, cos, tanh, erf, sqrt), a convolution
(oneDNN), numpy's exp, and one AdamW step in each of torch's two implementations.

    .venv/bin/python benchmarks/cpu_paths.py          # needs qemu-x86_64 (make services)

Writes benchmarks/results/cpu_paths.json: per op, whether the bits differ and, where they
do, in how many of the values and by how many units in the last place at most.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import numpy as np
import torch
torch.manual_seed(0)
a = torch.randn(20000)
m, w = torch.randn(512, 256), torch.randn(256, 256)
img, k = torch.randn(16, 3, 28, 28), torch.randn(8, 3, 3, 3)
out = {"matmul (MKL)": m @ w, "conv2d (oneDNN)": torch.nn.functional.conv2d(img, k)}
for name in ("exp", "log", "sin", "cos", "tanh", "erf", "sqrt"):
    x = a.abs() + 1e-3 if name in ("log", "sqrt") else a
    out[f"torch.{name} (MKL vector math)"] = getattr(torch, name)(x)
out["numpy.exp"] = torch.from_numpy(np.exp(a.double().numpy()))
for fused in (False, True):
    p = torch.nn.Parameter(torch.randn(4096))
    opt = torch.optim.AdamW([p], lr=1e-3, fused=fused)
    for _ in range(3):
        opt.zero_grad(); (p.sin() * a[:4096]).sum().backward(); opt.step()
    out[f"AdamW step ({'fused' if fused else 'foreach'})"] = p.detach()
json.dump({k: v.contiguous().numpy().tobytes().hex() + ":" + str(v.dtype) for k, v in out.items()},
          sys.stdout)
"""


def values(hexed: str) -> np.ndarray:
    data, dtype = hexed.rsplit(":", 1)
    return np.frombuffer(bytes.fromhex(data), dtype=np.float64 if "64" in dtype else np.float32)


def ulps(a: np.ndarray, b: np.ndarray) -> int:
    ints = np.int64 if a.dtype == np.float64 else np.int32
    return int(np.abs(a.view(ints).astype(np.int64) - b.view(ints).astype(np.int64)).max())


def probe(mode: str, prefix: list[str]) -> dict[str, str]:
    import trainflow.numerics as numerics

    env = {**numerics.unpinned_environ(), "TRAINFLOW_NUMERICS": mode}
    code = "import trainflow\n" + PROBE
    done = subprocess.run([*prefix, sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    import shutil

    from trainflow import numerics
    from trainflow.figures.record import script_command, write_result

    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("qemu-x86_64 missing: `make services` installs it (Debian qemu-user)")
    cpu = numerics.cpu()
    other = ("EPYC-Rome" if cpu["vendor"] == "GenuineIntel" and "avx512f" not in cpu["isa"]
             else "Haswell-v4")  # fmt: skip
    ops: dict[str, dict] = {}
    for mode in ("native", "portable"):
        here, there = probe(mode, []), probe(mode, [qemu, "-cpu", other])
        for name in here:
            a, b = values(here[name]), values(there[name])
            differ = int((a != b).sum())
            ops.setdefault(name, {})[mode] = {"differ": differ, "of": len(a),
                                              "max_ulps": ulps(a, b) if differ else 0}  # fmt: skip
            print(f"{mode:8s} {name:34s} {differ:6d} of {len(a)} differ", flush=True)
    write_result("cpu_paths", {"here": cpu["model"], "other": f"{other} (emulated by qemu)",
                               "ops": ops}, script_command(sys.argv, ROOT), ROOT)  # fmt: skip


if __name__ == "__main__":
    main()
