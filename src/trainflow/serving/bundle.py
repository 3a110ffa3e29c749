"""Build the inference bundle: a BentoML model (weights, preprocessor JSON, schema, card), a bento
around the service, exported as one archive. Versions are content hashes, so rebuilding the same
model gives the same tags."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import trainflow
from trainflow.errors import StageError
from trainflow.imports import shipped_modules
from trainflow.io import atomic_path
from trainflow.params import DataParams

SERVICE = "trainflow.serving.service:TabularModel"
SERVING_PACKAGES = ("bentoml", "numpy", "pandas", "pydantic", "pyyaml")
"""What every bundle needs; the champion's family adds its own (Fitted.packages)."""
SERVICE_MODULE = "serving/service.py"
"""The bento ships every trainflow module the service and the champion's family module can
import (trainflow.imports, read from the source): nothing listed by hand. Training code among
them is never run by the server, and its libraries (Lightning) are not in the bento."""

EXPORTS_DIR = "exports"  # in the bento's model and beside the archive: portable exports

TASK_LABELS = {"binary": "binary-classification", "multiclass": "multiclass-classification",
               "regression": "regression"}  # fmt: skip


def configure_bentoml_env(home: Path) -> None:
    """Project-local model/bento store and no tracking; call before importing bentoml."""
    os.environ.setdefault("BENTOML_HOME", str(home.resolve()))
    os.environ["BENTOML_DO_NOT_TRACK"] = "True"


def content_version(folder: Path) -> str:
    """A short hash over every file of a model folder (names and bytes): same model, same
    version tag."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# Documents BentoML or the build writes into the model folder that answers never read: its
# metadata (model.yaml), and the card and lineage, which differ on every rebuild (git commit,
# measured latency) while the model is the same.
UNCHECKED_MODEL_FILES = frozenset({"model.yaml", "model_card.md", "lineage.json"})


def file_manifest(folder: Path, names: list[str] | None = None) -> dict[str, str]:
    """sha256 of each file under `folder` (or of `names`, paths relative to it), by posix path:
    what the server checks at start (check_manifest)."""
    if names is None:
        names = sorted(
            p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and p.relative_to(folder).as_posix() not in UNCHECKED_MODEL_FILES
        )  # fmt: skip
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in names}


def check_manifest(folder: Path, manifest: dict[str, str], what: str, extra_ok: bool) -> None:
    """Refuse a bundle whose files are not the ones built: each recorded file must exist with
    its recorded sha256, and (unless `extra_ok`) no other file may sit beside them; the error
    names the file. Integrity, not authenticity: whoever can rewrite the bundle can rewrite its
    record too; signing (or comparing metrics/bundle.json's content hash) covers that."""
    for name, expected in manifest.items():
        path = folder / name
        if not path.is_file():
            raise StageError(f"bundle refused: {what} file {name} is missing ({folder})")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise StageError(
                f"bundle refused: {what} file {name} differs from the one built "
                f"(sha256 {actual[:16]}..., recorded {expected[:16]}...) in {folder}"
            )
    if not extra_ok:
        found = file_manifest(folder).keys() - manifest.keys()
        if found:
            raise StageError(
                f"bundle refused: {what} file {sorted(found)[0]} was not in the bundle built "
                f"({folder})"
            )


def serving_requirements(
    lock_text: str, packages: tuple[str, ...] = SERVING_PACKAGES
) -> list[str]:
    """The pinned lines of `packages` from our lock file (the bento must not resolve online)."""
    wanted = {p.lower().replace("_", "-") for p in packages}
    pins = {}
    for line in lock_text.splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name = line.split("==")[0].strip().lower().replace("_", "-")
            if name in wanted:
                pins[name] = line
    missing = sorted(wanted - set(pins))
    if missing:
        raise StageError(f"requirements.lock: no pinned version for {missing}")
    return [pins[name] for name in sorted(pins)]


def _served_version(
    model_version: str, source: Path, config: dict, requirements: list[str],
    modules: tuple[str, ...],
) -> str:  # fmt: skip
    """The bento's version: a hash of everything that decides its answers (model files, the
    service's code, its config, the pinned packages), so a changed service never reuses a
    tag. The model card (lineage) is left out: same behaviour, same tag."""
    digest = hashlib.sha256(model_version.encode())
    for module in modules:
        digest.update(module.encode())
        digest.update((source / module).read_bytes())
    digest.update(json.dumps(config, sort_keys=True).encode())
    digest.update("\n".join(requirements).encode())
    return digest.hexdigest()[:16]


def _fresh_tag(kind: str, tag: str) -> None:
    import bentoml
    from bentoml.exceptions import NotFound

    store = bentoml.models if kind == "model" else bentoml.bentos
    with contextlib.suppress(NotFound):
        store.delete(tag)


_BUILD_SCRIPT = """
import json, sys
import bentoml
args = json.loads(sys.argv[1])
bento = bentoml.bentos.build(**args)
bentoml.bentos.export_bento(bento.tag, sys.argv[2])
print(bento.tag)
"""


def _build_in_subprocess(ctx: Path, build_args: dict, archive: Path) -> str:
    """Build and export from a fresh interpreter whose first import path is the build context,
    so the bento is built (and proven importable) from its own copy of the code."""
    done = subprocess.run(
        [sys.executable, "-c", _BUILD_SCRIPT, json.dumps(build_args), str(archive)],
        cwd=ctx, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise StageError(f"bentoml build failed:\n{tail}")
    return done.stdout.strip().splitlines()[-1]


def build_bundle(
    model_dir: Path,
    cards: tuple[str, str],
    model_name: str,
    bundle_config: dict,
    requirements: list[str],
    out_archive: Path,
    extra_files: tuple[Path, ...] = (),
    family_modules: tuple[str, ...] = (),
    exports: Path | None = None,
) -> dict:
    """Save the model folder (+ `extra_files`: exports, params, schema, example, lock,
    lineage) to the BentoML store, build the bento offline with the service's modules and the
    champion family's (`family_modules`), export it to `out_archive`. `cards`: the model card
    with and without its lineage section; the first is the card and the bento's README, the
    second its description (bento.yaml), so that only the card files carry the lineage."""
    card, stable_card = cards
    import bentoml

    modules = shipped_modules((SERVICE_MODULE, *family_modules))
    version = content_version(model_dir)
    model_tag = f"{model_name}:{version}"
    source = Path(trainflow.__file__).parent
    _fresh_tag("model", model_tag)
    task = DataParams.model_validate(bundle_config["data"]).task_type
    labels = {"project": "trainflow", "family": bundle_config["family"],
              "task": TASK_LABELS[task]}  # fmt: skip
    with bentoml.models.create(
        model_tag, labels=labels, metadata=bundle_config.get("metrics", {})
    ) as model:
        shutil.copytree(model_dir, model.path, dirs_exist_ok=True)
        if exports is not None:
            shutil.copytree(exports, Path(model.path) / EXPORTS_DIR)
        for path in extra_files:
            shutil.copy2(path, model.path_of(path.name))
        Path(model.path_of("model_card.md")).write_text(card)
    files = {  # the server checks these at start: the bundle served is the bundle built
        "model": file_manifest(Path(bentoml.models.get(model_tag).path)),
        "code": file_manifest(source, list(modules)),
    }
    config = {**bundle_config, "model_tag": model_tag, "service_name": f"{model_name}_service",
              "files": files}  # fmt: skip
    bento_version = _served_version(version, source, config, requirements, modules)
    _fresh_tag("bento", f"{model_name}_service:{bento_version}")
    with tempfile.TemporaryDirectory(prefix="trainflow-build-") as tmp:
        ctx = Path(tmp)
        for module in modules:
            (ctx / "trainflow" / module).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / module, ctx / "trainflow" / module)
        (ctx / "trainflow/serving/bundle.json").write_text(json.dumps(config, indent=2))
        (ctx / "requirements.txt").write_text("\n".join(requirements) + "\n")
        (ctx / "README.md").write_text(card)
        build_args = {
            "service": SERVICE,
            "name": f"{model_name}_service",
            "version": bento_version,
            "labels": labels,
            "description": stable_card,
            "include": ["/trainflow/**/*.py", "/trainflow/serving/bundle.json"],
            "python": {"requirements_txt": "requirements.txt", "lock_packages": False},
            "build_ctx": str(ctx),
        }
        out_archive.parent.mkdir(parents=True, exist_ok=True)
        bento_tag = _build_in_subprocess(ctx, build_args, out_archive.resolve())
    reproducible_archive(out_archive)
    return {"bento_tag": bento_tag, "model_tag": model_tag}


def content_sha256(archive: Path, cards: tuple[str, str], skip: tuple[str, ...]) -> str:
    """A hash of the archive's files (names and bytes, in name order) with each copy of the
    card read as the card without its lineage section and the `skip` files left out: what a
    rebuild from the same inputs reproduces exactly, though its git commit and latency
    differ."""
    card, stable_card = (c.encode() for c in cards)
    digest = hashlib.sha256()
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.isfile() or member.name.rsplit("/", 1)[-1] in skip:
                continue
            data = tar.extractfile(member).read()
            data = stable_card if data == card else data
            digest.update(f"{member.name}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


BUILT_AT = "1980-01-01T00:00:00+00:00"  # as in wheels: a fixed time, so bytes follow content
_CREATION_TIME = re.compile(rb"^(\s*creation_time: ).*$", re.MULTILINE)


def reproducible_archive(archive: Path) -> None:
    """Rewrite an exported bento so its bytes depend on its contents alone: BentoML stamps the
    build time into bento.yaml and model.yaml and the file times into the tar. Here members are
    sorted, owners and mtimes fixed, and those stamps set to BUILT_AT. bentoml import reads it
    as before; the version tags (content hashes) are unchanged."""
    with tarfile.open(archive) as src:
        members = sorted(src.getmembers(), key=lambda m: m.name)
        contents = {m.name: src.extractfile(m).read() for m in members if m.isfile()}
    with atomic_path(archive) as tmp, tarfile.open(tmp, "w:xz", format=tarfile.GNU_FORMAT) as out:
        for member in members:
            data = contents.get(member.name)
            if data is not None and member.name.endswith(("bento.yaml", "model.yaml")):
                data = _CREATION_TIME.sub(rb"\g<1>'" + BUILT_AT.encode() + rb"'", data)
            info = tarfile.TarInfo(member.name)
            info.type, info.mode = member.type, member.mode
            info.linkname = member.linkname
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if data is None:
                out.addfile(info)
            else:
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
