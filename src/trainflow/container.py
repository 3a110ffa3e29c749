"""An OCI image of the packaged bundle, built with no network.

`bentoml containerize` builds from the bento's generated Dockerfile, which starts `FROM
python:3.11-slim` (a registry pull) and installs packages with apt and uv during the build: it
cannot run where only package registries answer, nor reproduce a build later. Here every input is
fetched first, on the host, from what is reachable (Debian's archive by `mmdebstrap`, the
bundle's pinned wheels by `pip download`, constrained by requirements.lock), then the image is
built with `--network=none`. The image keeps BentoML's own layout (the bento at
/home/bentoml/bento, a venv at /app/.venv, user `bentoml`, the bento's entrypoint.sh), so it runs
like a containerized bento: `podman run -p 3000:3000 IMAGE`.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from trainflow import paths
from trainflow.errors import StageError
from trainflow.tools import run_tool

DEBIAN_SUITE = "bookworm"
# Python 3.11 as the lock was made for; libgomp1 for LightGBM's OpenMP; CA roots for S3 remotes
BASE_PACKAGES = ("python3", "python3-venv", "libgomp1", "ca-certificates")
BENTO_PATH = "/home/bentoml/bento"
LOG_DIR = "/home/bentoml/prediction-logs"

CONTAINERFILE = """\
FROM {base}
ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 PYTHONIOENCODING=UTF-8 PYTHONUNBUFFERED=1 \\
    BENTO_PATH={bento_path} BENTOML_HOME=/home/bentoml/ BENTOML_CONTAINERIZED=true \\
    BENTOML_DO_NOT_TRACK=True TRAINFLOW_LOG_DIR={log_dir} VIRTUAL_ENV=/app/.venv \\
    PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN groupadd -g 1034 bentoml && useradd -m -u 1034 -g 1034 -r bentoml \\
    && mkdir -p {log_dir} && chown bentoml:bentoml {log_dir}
COPY wheels /tmp/wheels
COPY bento/env/python/requirements.txt /tmp/requirements.txt
RUN python3 -m venv /app/.venv \\
    && /app/.venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \\
       --find-links /tmp/wheels -r /tmp/requirements.txt \\
    && rm -rf /tmp/wheels /tmp/requirements.txt
COPY --chown=bentoml:bentoml bento {bento_path}
WORKDIR {bento_path}
USER bentoml
EXPOSE 3000
VOLUME {log_dir}
ENTRYPOINT ["{bento_path}/env/docker/entrypoint.sh"]
"""


@dataclass(frozen=True)
class Engine:
    """A container engine's CLI and the flags this machine needs for it to start containers."""

    name: str  # podman | docker
    exe: str
    flags: tuple[str, ...] = ()  # global flags, before the subcommand
    run_flags: tuple[str, ...] = ()  # for `build` and `run` (both start containers)

    def cmd(self, *args: str) -> list[str]:
        sub, rest = args[0], args[1:]
        extra = self.run_flags if sub in ("build", "run") else ()
        return [self.exe, *self.flags, sub, *extra, *rest]


def _ulimit_flags() -> tuple[str, ...]:
    """Podman as root sets nofile / nproc to their maxima, which a container host without
    CAP_SYS_RESOURCE (a microVM, a nested container) refuses: ask for this process's own
    limits instead, which any host grants."""
    flags: list[str] = []
    for name, limit in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        soft, _ = resource.getrlimit(limit)
        cap = _pid_max() if name == "nproc" else None  # measured: refused above pid_max
        if cap is not None and (soft == resource.RLIM_INFINITY or soft > cap):
            soft = cap
        if soft != resource.RLIM_INFINITY:
            flags += ["--ulimit", f"{name}={soft}:{soft}"]
    return tuple(flags)


def _pid_max() -> int | None:
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        return None


def find_engine(preferred: str | None = None) -> Engine:
    """`$TRAINFLOW_CONTAINER_ENGINE` or podman, else docker; podman with runc when installed
    (crun refuses hosts whose cgroups are mounted in hybrid v1/v2 mode; runc runs on both)."""
    wanted = preferred or os.environ.get("TRAINFLOW_CONTAINER_ENGINE")
    for name in [wanted] if wanted else ["podman", "docker"]:
        exe = shutil.which(name)
        if exe is None:
            continue
        if name == "podman":
            runtime = os.environ.get("TRAINFLOW_CONTAINER_RUNTIME") or (
                "runc" if shutil.which("runc") else None
            )
            flags = ("--runtime", runtime) if runtime else ()
            return Engine(name, exe, flags, _ulimit_flags())
        return Engine(name, exe)
    raise StageError(
        f"no container engine: {wanted or 'podman or docker'} not on PATH "
        "(Debian: apt-get install podman runc mmdebstrap; or make services)"
    )


def _run(cmd: list[str], what: str) -> str:
    """Image tools say why they failed over several lines (mmdebstrap's apt, the build's
    step): keep more of them than other tools' one-line reasons."""
    return run_tool(cmd, what, lines=20, limit=1500)


def image_exists(engine: Engine, tag: str) -> bool:
    probe = ["image", "exists", tag] if engine.name == "podman" else ["image", "inspect", tag]
    return subprocess.run(engine.cmd(*probe), capture_output=True).returncode == 0


def base_tag(packages: tuple[str, ...] = BASE_PACKAGES) -> str:
    """The base image's tag: the suite and a hash of the packages."""
    key = hashlib.sha256(f"{DEBIAN_SUITE}:{','.join(sorted(packages))}".encode()).hexdigest()
    return f"localhost/trainflow-base:{DEBIAN_SUITE}-{key[:12]}"


def base_image(engine: Engine, packages: tuple[str, ...] = BASE_PACKAGES) -> str:
    """A Debian root file system made from Debian's packages by mmdebstrap and imported as an
    image: no base image registry needed. Its tag names the suite and a hash of the packages,
    so a changed list builds a new one and an unchanged one is reused."""
    tag = base_tag(packages)
    if image_exists(engine, tag):
        return tag
    if shutil.which("mmdebstrap") is None:
        raise StageError(
            "mmdebstrap not found: it makes the base image from Debian's packages "
            "(apt-get install mmdebstrap), or pass --base-image with a Python 3.11 image you have"
        )
    with tempfile.TemporaryDirectory(prefix="trainflow-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        _run(["mmdebstrap", "--variant=minbase", f"--include={','.join(packages)}",
              DEBIAN_SUITE, str(rootfs)], "mmdebstrap (the base image)")  # fmt: skip
        _run(engine.cmd("import", str(rootfs), tag), f"{engine.name} import")
    return tag


def fetch_wheels(requirements: Path, dest: Path, lock: Path | None) -> list[Path]:
    """Every wheel the bundle's requirements need, for this Python and platform, versions
    constrained by the project's lock (what the tests ran with)."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
           "--only-binary=:all:", "-r", str(requirements), "-d", str(dest)]  # fmt: skip
    if lock is not None and lock.is_file():
        cmd += ["-c", str(lock)]
    _run(cmd, "pip download (the bundle's wheels)")
    return sorted(dest.glob("*.whl"))


@dataclass(frozen=True)
class Built:
    tag: str
    engine: str
    base: str
    wheels: int
    size_bytes: int
    archive: Path | None


def image_tag(bundle_dir: Path) -> str:
    """`localhost/trainflow/<bento name>:<bento version>`: the bento's content-derived version,
    so an unchanged bundle makes the same tag."""
    name, version = json.loads((bundle_dir / "bundle.json").read_text())["bento_tag"].split(":")
    return f"localhost/trainflow/{name}:{version}"


def build(
    bundle_dir: Path = paths.BUNDLE_DIR,
    tag: str | None = None,
    engine: Engine | None = None,
    base: str | None = None,
    lock: Path | None = Path("requirements.lock"),
    save: Path | None = None,
) -> Built:
    """Build the image of `bundle_dir`'s bento archive with no network during the build."""
    archive = bundle_dir / paths.BUNDLE_ARCHIVE_NAME
    if not archive.is_file():
        raise StageError(f"{archive}: no bundle archive (run `dvc repro package` first)")
    info = json.loads((bundle_dir / "bundle.json").read_text())
    engine = engine or find_engine()
    tag = tag or image_tag(bundle_dir)
    base = base or base_image(engine)
    with tempfile.TemporaryDirectory(prefix="trainflow-image-") as tmp:
        ctx = Path(tmp)
        with tarfile.open(archive) as tar:
            tar.extractall(ctx / "bento", filter="data")
        requirements = ctx / "bento/env/python/requirements.txt"
        wheels = fetch_wheels(requirements, ctx / "wheels", lock)
        (ctx / "Containerfile").write_text(
            CONTAINERFILE.format(base=base, bento_path=BENTO_PATH, log_dir=LOG_DIR)
        )
        labels = {
            "org.opencontainers.image.title": info["bento_tag"].split(":")[0],
            "org.opencontainers.image.version": info["bento_tag"].split(":")[1],
            "org.opencontainers.image.base.name": base,
            "trainflow.model_tag": info["model_tag"],
            "trainflow.content_sha256": info["content_sha256"],
        }
        label_flags = [f for k, v in labels.items() for f in ("--label", f"{k}={v}")]
        _run(engine.cmd("build", "--network=none", *label_flags, "-t", tag,
                        "-f", str(ctx / "Containerfile"), str(ctx)),
             f"{engine.name} build")  # fmt: skip
    size = _image_size(engine, tag)
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        fmt = ["--format", "oci-archive"] if engine.name == "podman" else []
        _run(engine.cmd("save", *fmt, "-o", str(save), tag), f"{engine.name} save")
    return Built(tag, engine.name, base, len(wheels), size, save)


def _image_size(engine: Engine, tag: str) -> int:
    out = _run(engine.cmd("image", "inspect", tag, "--format", "{{.Size}}"), "image inspect")
    return int(out.strip() or 0)


def run_cmd(engine: Engine, tag: str, port: int = 3000, host: str = "127.0.0.1") -> list[str]:
    """The command that serves the image on host:port (the prediction log in a volume)."""
    return engine.cmd("run", "--rm", "-p", f"{host}:{port}:3000", "-v",
                      f"trainflow-logs:{LOG_DIR}", tag)  # fmt: skip


def can_run(engine: Engine, image: str) -> str | None:
    """None when `engine` starts a container of `image` here, else the engine's error: some
    hosts (no user namespaces, no cgroups) build nothing and must say why."""
    done = subprocess.run(engine.cmd("run", "--rm", "--network=none", image, "true"),
                          capture_output=True, text=True)  # fmt: skip
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()[-500:]
