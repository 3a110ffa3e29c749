"""Text columns as categoricals: the data path's in-memory form of text.

A text column of 10 M rows holds a few dozen distinct values. Held as a pandas categorical (a
Parquet dictionary on disk), cleaning touches only the distinct values, and taking, hashing and
deduplicating rows move integer codes instead of 10 M strings: at 1e7 rows this is what keeps
the data stages within seconds. Values are unchanged; only their representation is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd


def is_text(values: pd.Series) -> bool:
    """A text column: pandas `str`, or a categorical whose categories are text."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        return isinstance(categories.dtype, pd.StringDtype) or (
            pd.api.types.infer_dtype(categories, skipna=True) == "string"
        )
    return isinstance(dtype, pd.StringDtype)


# a number as a CSV cell holds it; no inf/nan, and bounded (<= 200 integer digits, a 2-digit
# exponent) so that every string that matches is a finite float
NUMBER_TEXT = r"[-+]?(?:\d{1,200}(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,2})?"


def number_or_marker(markers: list[str]) -> str:
    """A regex a whole cell matches when it is a number written as text or a missing marker."""
    alternatives = "|".join([NUMBER_TEXT, *(re.escape(m) for m in sorted(markers))])
    return rf"^\s*(?:{alternatives})\s*$"


def categorize_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`str` columns become categoricals (sorted categories, so the result is deterministic)."""
    text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)]
    out = frame.copy(deep=False)
    with ThreadPoolExecutor(max_workers=2) as pool:  # the hashing releases the GIL
        for col, encoded in zip(text, pool.map(lambda c: frame[c].astype("category"), text),
                                strict=True):  # fmt: skip
            out[col] = encoded
    return out


def map_categories(values: pd.Series, fn: Callable[[pd.Index], pd.Index]) -> pd.Series:
    """Apply `fn` to a categorical's distinct values, merging those that become equal.

    Missing results become missing values. Costs O(categories) + one pass over the codes.
    """
    old = values.cat.categories
    new = pd.Index(fn(old))
    if new.notna().all() and new.is_unique:  # no merges: relabel, codes untouched
        return values.cat.rename_categories(new)
    keep = new.notna()
    merged = pd.Index(new[keep].unique())
    remap = np.full(len(old) + 1, -1, dtype=np.int64)  # last slot: code -1 (missing) stays -1
    remap[:-1][keep] = merged.get_indexer(new[keep])
    codes = remap[values.cat.codes.to_numpy()]
    cat = pd.Categorical.from_codes(codes, categories=merged)
    return pd.Series(cat, index=values.index, name=values.name)


def category_counts(values: pd.Series) -> np.ndarray:
    """Rows per category (in category order) of a categorical."""
    codes = values.cat.codes.to_numpy()
    return np.bincount(codes[codes >= 0], minlength=len(values.cat.categories))


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 64-bit content hash per row over `columns`, independent of the index and of whether
    text is held as `str` or categorical."""
    return pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()
