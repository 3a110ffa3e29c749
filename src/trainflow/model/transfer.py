"""Transfer learning: start a network from the weights of a registered model version.

`train.init_from.path` names a bundle as `dvc import` / `dvc artifacts get` fetch it (the
`.bento` archive the package stage built) or a model folder (models/champion,
models/families/<family>). The network of the same family inside it (the champion, or an
ensemble's member) gives every weight whose name and shape the new network shares and that
means the same thing: the CNN, the MLP blocks of a same-sized network; the output layer only
for the same labels in the same order, category and word embeddings only for the same
vocabularies, numeric embeddings only for the same numeric columns (a weight of the right
shape for another meaning starts fresh). The new data's own scaling (pixel mean / std, idf)
is never taken. Weights are read with `torch.load(weights_only=True)`: tensors only, nothing
unpickled.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path, PurePosixPath

import torch

from trainflow.errors import StageError

OWN_BUFFERS = ("pixels.", "idf")  # the new data's statistics, not the source's


def content_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
    else:
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(item.relative_to(path)).encode() + item.read_bytes())
    return digest.hexdigest()


def _candidates(files: dict[str, bytes], family: str) -> list[str]:
    """Where `family`'s weights sit among a model's files: the model itself when it is that
    family, else an ensemble member of that name."""
    found = []
    for name in sorted(files):
        path = PurePosixPath(name)
        if path.name != "family.json":
            continue
        meta = json.loads(files[name])
        if meta.get("family") == family and "model.pt" in meta.get("files", []):
            found.append(str(path.with_name("model.pt")))
    return found


def _files(path: Path) -> tuple[dict[str, bytes], str | None]:
    """family.json / model.pt files of a bundle archive or a model folder (by relative name),
    and the model's tag (name:version) when a bundle holds one."""
    wanted = ("family.json", "model.pt", "preprocessor.json")
    if path.is_dir():
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
                if p.is_file() and p.name in wanted}, None  # fmt: skip
    if not path.is_file():
        raise StageError(f"train.init_from.path: {path} not found (fetch it into models/init/ "
                         "with `dvc import` or `dvc artifacts get`)")  # fmt: skip
    try:
        with tarfile.open(path) as archive:
            files = {}
            for member in archive.getmembers():
                if member.isfile() and PurePosixPath(member.name).name in wanted:
                    handle = archive.extractfile(member)
                    assert handle is not None
                    files[str(PurePosixPath(member.name))] = handle.read()
    except tarfile.TarError:
        raise StageError(f"train.init_from.path: {path} is not a bundle (.bento) or a model "
                         "folder") from None  # fmt: skip
    tags = {PurePosixPath(n).parts[1:3] for n in files if PurePosixPath(n).parts[0] == "models"}
    tag = ":".join(sorted(tags)[0]) if len(tags) == 1 else None
    return files, tag


def initial_state(path: Path, family: str) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """The weights of `family`'s network in the bundle or folder at `path`, a record of where
    they came from (for the lineage), and the source's preprocessor (JSON, for what its
    weights mean). An error names what is missing."""
    files, tag = _files(path)
    found = _candidates(files, family)
    if not found:
        families = sorted({json.loads(v).get("family") for k, v in files.items()
                           if k.endswith("family.json")} - {None})  # fmt: skip
        raise StageError(f"train.init_from.path: {path} holds no {family} network to start "
                         f"from (it has {families})")  # fmt: skip
    state = torch.load(io.BytesIO(files[found[0]]), map_location="cpu", weights_only=True)
    record = {
        "path": str(path),
        "sha256": content_sha256(path),
        "model_tag": tag,
        "weights": found[0],
    }
    source_pre = files.get(str(PurePosixPath(found[0]).with_name("preprocessor.json")), b"{}")
    return state, record, json.loads(source_pre)


def other_meanings(source: dict, target: dict) -> tuple[str, ...]:
    """State-dict prefixes whose weights would mean something else in the new network, from
    the two preprocessors' JSON: numeric embeddings of other columns, category embeddings of
    other vocabularies, word embeddings of another tokenizer, an output layer for other labels."""
    skip: list[str] = []
    if source.get("numeric") != target.get("numeric"):
        skip.append("numeric.")
    if (source.get("categorical"), source.get("vocab")) != (
        target.get("categorical"), target.get("vocab")
    ):  # fmt: skip
        skip.append("categories.")
    for j, column in enumerate(target.get("text", [])):
        if source.get("tokenizers", {}).get(column) != target["tokenizers"][column]:
            skip += [f"texts.{j}.", f"words.{j}."]
    if (source.get("task"), source.get("labels")) != (target.get("task"), target.get("labels")):
        skip.append("backbone.output")
    return tuple(skip)


def load_matching(
    net: torch.nn.Module, state: dict[str, torch.Tensor], skip: tuple[str, ...] = ()
) -> dict:
    """Copy into `net` every tensor of `state` with the same name and shape but those under
    the `skip` prefixes (other_meanings) and the new data's own scaling buffers; returns what
    was taken and what was left."""
    own = net.state_dict()
    kept_out = (*OWN_BUFFERS, *skip)
    taken = {
        k: v for k, v in state.items()
        if k in own and own[k].shape == v.shape and not k.startswith(kept_out)
    }  # fmt: skip
    if not taken:
        raise StageError(
            "train.init_from: no weight of the source network fits this one "
            "(another architecture: compare cnn_widths, width, n_blocks)"
        )
    net.load_state_dict(taken, strict=False)
    fresh = sorted(k for k in own if k not in taken and not k.startswith(OWN_BUFFERS))
    return {"tensors_loaded": len(taken), "tensors_fresh": fresh}
