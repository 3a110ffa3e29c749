"""Images as table cells: each file's bytes, base64, in an image column (read from folders,
archives or a manifest by trainflow.data.image_sources).

The pipeline's stages move tables; an image column holds the file as it was (PNG, JPEG, ...),
base64-encoded, so the raw layer keeps the source exactly, dedupe and the leakage gate compare
the files' content, and a served `/predict` request carries an image the same way. Pillow
decodes (what torchvision's own PIL path uses), once per preprocessing, and resizes
antialiased. `inspect` gives what the contract checks per image: decodes or not, width, height,
channels, format.
"""

from __future__ import annotations

import base64
import binascii
import io
import re

import numpy as np
import pandas as pd

from trainflow.errors import StageError

MAX_PIXELS = 50_000_000  # a larger image is refused (Pillow's decompression-bomb guard)
INSPECT_COLUMNS = ("width", "height", "channels", "format")


def inspected_name(column: str, what: str) -> str:
    """The contract view's column for one property of an image column, e.g. image.width."""
    return f"{column}.{what}"


def encode_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _open(value: object) -> object:  # a PIL.Image.Image
    """An image cell -> a fully decoded Pillow image; ValueError saying why it is not one."""
    from PIL import Image

    if not isinstance(value, str):
        raise ValueError("no image")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # decodes every pixel: a truncated file fails here, not later
    except Image.DecompressionBombError:
        raise ValueError(f"larger than {MAX_PIXELS:,} pixels") from None
    except (OSError, SyntaxError, ValueError) as err:  # Pillow's "cannot identify", truncation
        why = re.sub(r" <[^>]*>", "", str(err).splitlines()[0])[:80]  # no object addresses
        raise ValueError(f"not a decodable image ({why})") from None
    return image


def check_image(value: str, max_bytes: int) -> str | None:
    """Why a served request's image cell is not acceptable (None when it is): not base64,
    more than `max_bytes`, or no decodable image."""
    if len(value) > 4 * -(-max_bytes // 3):
        return f"larger than {max_bytes:,} bytes"
    try:
        _open(value)
    except ValueError as err:
        return str(err)
    return None


def inspect(values: pd.Series) -> pd.DataFrame:
    """Per image: width, height, channels, format (all missing where it does not decode)."""
    rows = []
    for value in values.tolist():
        try:
            image = _open(value)
        except ValueError:
            rows.append((None, None, None, None))
            continue
        rows.append((image.width, image.height, len(image.getbands()), image.format))
    out = pd.DataFrame(rows, columns=list(INSPECT_COLUMNS), index=values.index)
    for col in ("width", "height", "channels"):
        out[col] = out[col].astype("Int64")
    out["format"] = out["format"].astype("str")
    return out


def pixels(values: pd.Series, size: int, channels: int, column: str = "image") -> np.ndarray:
    """Images -> uint8 [n, channels, size, size]: converted to grey (1) or RGB (3), resized
    (bilinear, antialiased when shrinking). A missing image is all zeros (as a missing text
    is all padding: the contract bounds how often); a cell that is no image is an error
    naming its row (counting from 1)."""
    from PIL import Image

    mode = "L" if channels == 1 else "RGB"
    out = np.zeros((len(values), channels, size, size), dtype=np.uint8)
    for i, value in enumerate(values.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        try:
            image = _open(value)
        except ValueError as err:
            raise StageError(f"{column}: row {i + 1}: {err}") from None
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: keep the high byte
            image = image.point(lambda v: v / 256).convert("L")
        image = image.convert(mode)
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        out[i] = array[None] if channels == 1 else array.transpose(2, 0, 1)
    return out


def longest_side(values: pd.Series) -> pd.Series:
    """Each image's longer side in pixels (missing where it does not decode): what image
    slices and image drift measure."""
    info = inspect(values)
    return info[["width", "height"]].max(axis=1).astype("Float64")


def brightness(values: pd.Series) -> np.ndarray:
    """Each image's mean grey level (0-255; NaN where it does not decode): what image drift
    measures (a batch of inverted, darker or washed-out images moves it)."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values.tolist()):
        try:
            image = _open(value)
        except ValueError:
            continue
        out[i] = float(np.asarray(image.convert("L"), dtype=np.float64).mean())
    return out
