"""Images as table cells: reading class folders, manifests and archives; what the contract
inspects; decoding any size and channel count to the network's pixels; the served check."""

import io
import tarfile
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from trainflow.data import images
from trainflow.data.contract import contract_view, run_suite, starter_suite
from trainflow.data.image_sources import read_images, source_digest
from trainflow.errors import StageError
from trainflow.params import DataParams, ImageSource


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt)
    return out.getvalue()


def bar(horizontal: bool, side: int = 12, seed: int = 0) -> np.ndarray:
    """A grey image with a bright bar across (horizontal) or down the middle, and some noise."""
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 40, size=(side, side)).astype(np.uint8)
    middle = slice(side // 2 - side // 8, side // 2 + side // 8)  # a quarter of the side wide
    if horizontal:
        array[middle, :] = 230
    else:
        array[:, middle] = 230
    return array


def class_folders(root, n: int = 6):
    for label, horizontal in (("across", True), ("down", False)):
        (root / label).mkdir(parents=True)
        for i in range(n):
            (root / label / f"{i:02d}.png").write_bytes(png(bar(horizontal, seed=i)))
    return root


def cells(*arrays: np.ndarray, fmt: str = "PNG") -> pd.Series:
    return pd.Series([images.encode_bytes(png(a, fmt)) for a in arrays], dtype="str")


def test_class_folders_become_file_image_label_rows(tmp_path):
    root = class_folders(tmp_path / "shapes")
    (root / "across" / "notes.txt").write_text("not an image: left out")
    frame = read_images(ImageSource(kind="images", path=root))
    assert list(frame.columns) == ["file", "image", "label"]
    assert frame["file"].tolist()[:2] == ["across/00.png", "across/01.png"]
    assert frame["label"].value_counts().to_dict() == {"across": 6, "down": 6}
    first = images._open(frame["image"].iloc[0])
    assert first.size == (12, 12)  # the bytes as the file holds them
    assert len(source_digest(ImageSource(kind="images", path=root))) == 64


def test_an_image_outside_a_class_folder_is_named(tmp_path):
    root = class_folders(tmp_path / "shapes")
    (root / "stray.png").write_bytes(png(bar(True)))
    with pytest.raises(StageError, match=r"stray.png is not inside a class folder"):
        read_images(ImageSource(kind="images", path=root))


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_archives_of_class_folders_read_like_the_folders(tmp_path, kind):
    root = class_folders(tmp_path / "shapes")
    archive = tmp_path / f"shapes.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as out:
            for path in sorted(root.rglob("*.png")):
                out.write(path, f"shapes/{path.relative_to(root)}")  # one top folder
    else:
        with tarfile.open(archive, "w:gz") as out:
            out.add(root, arcname="shapes")
    from_archive = read_images(ImageSource(kind="images", path=archive))
    from_folders = read_images(ImageSource(kind="images", path=root))
    pd.testing.assert_frame_equal(from_archive.drop(columns="file"),
                                  from_folders.drop(columns="file"))  # fmt: skip
    assert (from_archive["file"] == "shapes/" + from_folders["file"]).all()  # the member's name
    archive.write_bytes(archive.read_bytes()[:200])  # truncated
    with pytest.raises(StageError, match="shapes"):
        read_images(ImageSource(kind="images", path=archive))


def test_a_manifest_names_files_and_a_missing_one_is_a_missing_image(tmp_path):
    root = tmp_path / "photos"
    (root / "img").mkdir(parents=True)
    (root / "img/a.png").write_bytes(png(bar(True)))
    (root / "img/b.jpg").write_bytes(png(np.dstack([bar(False)] * 3), "JPEG"))
    (root / "labels.csv").write_text("path,label,camera\nimg/a.png,across,x1\n"
                                     "img/b.jpg,down,x2\nimg/gone.png,down,x1\n")  # fmt: skip
    source = ImageSource(kind="images", path=root, manifest="labels.csv", file_column="path")
    frame = read_images(source)
    assert list(frame.columns) == ["path", "label", "camera", "image"]
    assert frame["image"].notna().tolist() == [True, True, False]
    with pytest.raises(StageError, match=r"labels.csv: no column 'file'"):
        read_images(ImageSource(kind="images", path=root, manifest="labels.csv"))


def test_inspect_reports_size_channels_format_and_what_does_not_decode():
    rgb = np.dstack([bar(True, side=20)] * 3)
    values = pd.concat([cells(bar(True), rgb, fmt="PNG"),
                        pd.Series([images.encode_bytes(png(bar(True))[:60]),  # truncated
                                   images.encode_bytes(b"hello"), None], dtype="str")],
                       ignore_index=True)  # fmt: skip
    info = images.inspect(values)
    assert info["width"].tolist()[:2] == [12, 20] and info["channels"].tolist()[:2] == [1, 3]
    assert info["format"].tolist()[:2] == ["PNG", "PNG"]
    assert info["format"].isna().tolist()[2:] == [True, True, True]


def test_pixels_resize_any_size_and_channel_count_to_the_networks_shape():
    grey, rgb = bar(True, side=12), np.dstack([bar(False, side=40)] * 3)
    out = images.pixels(cells(grey, rgb), size=8, channels=1)
    assert out.shape == (2, 1, 8, 8) and out.dtype == np.uint8
    assert out[0, 0, 4].mean() > 150 > out[0, 0, 0].mean()  # the bar stays across the middle
    assert out[1, 0, :, 4].mean() > 150 > out[1, 0, :, 0].mean()  # ... and down it
    colour = images.pixels(cells(grey), size=8, channels=3)
    assert colour.shape == (1, 3, 8, 8) and (colour[0, 0] == colour[0, 2]).all()
    with pytest.raises(StageError, match=r"photo: row 2: not a decodable image"):
        images.pixels(pd.Series([cells(grey)[0], images.encode_bytes(b"x")]), 8, 1, "photo")
    missing = images.pixels(pd.Series([None, cells(grey)[0]], dtype="str"), 8, 1, "photo")
    assert (missing[0] == 0).all() and (missing[1] == out[0]).all()  # no image: all zeros


def test_check_image_says_why_a_served_image_is_refused():
    good = cells(bar(True))[0]
    assert images.check_image(good, 10_000) is None
    assert images.check_image(good, 10) == "larger than 10 bytes"
    assert images.check_image("%%%", 10_000) == "not base64"
    assert images.check_image(images.encode_bytes(b"GIF89a"), 10_000).startswith(
        "not a decodable image"
    )


def test_the_drafted_contract_passes_on_its_data_and_names_bad_files(tmp_path):
    root = class_folders(tmp_path / "shapes")
    raw = read_images(ImageSource(kind="images", path=root))
    data = DataParams(target="label", labels=["across", "down"], numeric=[], categorical=[],
                      image=["image"], id_columns=["file"])  # fmt: skip
    suite = starter_suite(raw, data, "shapes")
    view = contract_view(raw, data.image)
    assert run_suite(view, suite).success
    broken = raw.copy()
    broken["image"] = broken["image"].astype(object)
    broken.loc[3, "image"] = images.encode_bytes(b"\x89PNG\r\n\x1a\n broken")
    broken.loc[7, "image"] = images.encode_bytes(png(bar(True, side=64)))  # too large
    report = run_suite(contract_view(broken, data.image), suite, row_names=broken["file"])
    lines = "\n".join(report.failure_lines())
    assert not report.success
    assert "'image.format', 1 images do not decode" in lines and "across/03.png" in lines
    assert "'image.width', 1 unexpected, in files" in lines and "down/01.png" in lines
