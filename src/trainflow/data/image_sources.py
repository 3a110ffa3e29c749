"""Image sources: class folders, a manifest of files, or a zip / tar archive of either, read
into the raw table (each file's bytes as base64, see trainflow.data.images)."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pandas as pd

from trainflow.data.images import encode_bytes
from trainflow.errors import StageError
from trainflow.params import FormatOptions, ImageSource

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


def _files(root: Path) -> Iterator[tuple[str, bytes]]:
    """(name relative to the root, bytes) of every file in a folder or archive, sorted."""
    name = root.name.lower()
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            yield path.relative_to(root).as_posix(), path.read_bytes()
        return
    if not root.is_file():
        raise StageError(f"{root}: not found")
    if name.endswith(".zip"):
        try:
            with zipfile.ZipFile(root) as archive:
                for member in sorted(archive.namelist()):
                    if not member.endswith("/"):
                        yield member, archive.read(member)
        except zipfile.BadZipFile:
            raise StageError(f"{root}: not a zip archive (corrupt or truncated)") from None
        return
    if name.endswith(ARCHIVE_SUFFIXES):
        try:
            with tarfile.open(root) as archive:
                members = sorted((m for m in archive.getmembers() if m.isfile()),
                                 key=lambda m: m.name)  # fmt: skip
                for member in members:
                    handle = archive.extractfile(member)
                    assert handle is not None  # a regular file
                    yield PurePosixPath(member.name).as_posix(), handle.read()
        except (tarfile.TarError, EOFError, OSError) as err:
            raise StageError(f"{root}: not a readable tar archive ({err})") from None
        return
    raise StageError(f"{root}: not a folder or a {'/'.join(ARCHIVE_SUFFIXES)} archive of images")


def _is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _strip_top(names: list[str]) -> int:
    """An archive often holds one top folder (digits/0/a.png): how many leading parts all
    names share as folders above the class folders."""
    parts = [PurePosixPath(n).parts for n in names]
    depth = 0
    while parts and all(len(p) > depth + 2 for p in parts) and len({p[depth] for p in parts}) == 1:
        depth += 1
    return depth


def read_images(source: ImageSource) -> pd.DataFrame:
    """The raw table of an image source: (file, image base64, label) for class folders; the
    manifest's columns + the image for a manifest. A file a manifest names that is not there
    gets a missing image (the contract names it); no image file at all is an error here."""
    files = dict(_files(source.path))
    if source.manifest is None:
        return _from_folders(files, source)
    return _from_manifest(files, source)


def _from_folders(files: dict[str, bytes], source: ImageSource) -> pd.DataFrame:
    names = [n for n in files if _is_image(n)]
    if not names:
        raise StageError(f"{source.path}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    top = _strip_top(names)
    loose = [n for n in names if len(PurePosixPath(n).parts) - top < 2]
    if loose:
        raise StageError(f"{source.path}: {loose[0]} is not inside a class folder "
                         "(one folder per label, or set ingest.source.manifest)")  # fmt: skip
    return pd.DataFrame({
        source.file_column: names,
        source.image_column: [encode_bytes(files[n]) for n in names],
        source.label_column: [PurePosixPath(n).parts[top] for n in names],
    })  # fmt: skip


def _from_manifest(files: dict[str, bytes], source: ImageSource) -> pd.DataFrame:
    from trainflow.data.sources import read_table

    assert source.manifest is not None
    where = f"{source.path}/{source.manifest}"
    manifest = files.get(source.manifest)
    if manifest is None:
        raise StageError(f"{where}: manifest not found")
    frame = read_table(manifest, where, FormatOptions())
    if source.file_column not in frame.columns:
        raise StageError(f"{where}: no column {source.file_column!r} (ingest.source.file_column)")
    if source.image_column in frame.columns:
        raise StageError(f"{where}: already has a column {source.image_column!r} "
                         "(ingest.source.image_column names the one ingest adds)")  # fmt: skip
    names = frame[source.file_column].astype("str").str.strip()
    images = [encode_bytes(files[n]) if n in files else None for n in names.tolist()]
    frame[source.image_column] = pd.Series(images, dtype="str", index=frame.index)
    return frame


def source_digest(source: ImageSource) -> str:
    """sha256 over every file's name and bytes (the provenance of an image source)."""
    digest = hashlib.sha256()
    for name, data in _files(source.path):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()
