"""The most confidently wrong images as one PNG: what a person looks at first when an image
model errs (a blurred scan, a mislabelled digit, a class the model confuses)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from trainflow.data.images import pixels

CELL = 112  # each image is shown at this side, in pixels (nearest-neighbour: no smoothing)
CAPTION = 30  # pixels under each image: "#k true <actual>", "pred <predicted> <confidence>"
GAP = 4  # white between cells
COLUMNS = 8


def error_grid(
    images: pd.Series, actual: list[str], predicted: list[str], confidence: list[float],
    column: str = "image",
) -> bytes:  # fmt: skip
    """A PNG grid, COLUMNS wide, in the order given (most confident first): each image with
    its caption: "#k true <actual>" and "pred <predicted> <confidence>". Same inputs, same
    bytes."""
    from PIL import Image, ImageDraw, ImageFont

    grid_images = pixels(images, CELL, 3, column)  # RGB, resized for viewing
    n = len(images)
    rows = max(1, -(-n // COLUMNS))
    step_x, step_y = CELL + GAP, CELL + CAPTION
    sheet = Image.new("RGB", (min(n, COLUMNS) * step_x, rows * step_y), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for k in range(n):
        x, y = (k % COLUMNS) * step_x, (k // COLUMNS) * step_y
        sheet.paste(Image.fromarray(np.ascontiguousarray(grid_images[k].transpose(1, 2, 0))),
                    (x, y))  # fmt: skip
        draw.text((x + 2, y + CELL + 1), f"#{k + 1} true {actual[k]}", fill="black", font=font)
        draw.text((x + 2, y + CELL + 15), f"pred {predicted[k]}  {confidence[k]:.3f}",
                  fill="firebrick", font=font)  # fmt: skip
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=False)
    return out.getvalue()
