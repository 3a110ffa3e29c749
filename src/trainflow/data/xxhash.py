"""Spark's row hash, `xxhash64(col, ...)`, computed on a pandas frame with numpy.

A record's hash decides things both data engines must agree on (the split a record falls in,
the duplicate it is): pandas' own `hash_pandas_object` has no Spark equivalent, so both use
Spark's. Spark hashes a row by chaining XXH64 over its values, each value's hash the seed of the
next (the first seeded with 42), skipping nulls; a value is hashed as its little-endian bytes:
4 for int / bool, 8 for long, double (its IEEE bits, -0.0 as 0.0) and timestamp
(microseconds), UTF-8 for strings. XXH64 itself is Yann Collet's, as Spark's
`XXH64.java`. Vectorised: rows are hashed together, strings grouped by their byte length.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

SPARK_SEED = 42
P1 = np.uint64(0x9E3779B185EBCA87)
P2 = np.uint64(0xC2B2AE3D27D4EB4F)
P3 = np.uint64(0x165667B19E3779F9)
P4 = np.uint64(0x85EBCA77C2B2AE63)
P5 = np.uint64(0x27D4EB2F165667C5)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _round(acc: np.ndarray, lane: np.ndarray) -> np.ndarray:
    return _rotl(acc + lane * P2, 31) * P1


def _avalanche(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * P2
    h = h ^ (h >> np.uint64(29))
    h = h * P3
    return h ^ (h >> np.uint64(32))


def _parts(data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Bytes [n, length] -> XXH64's inputs: the 8-byte little-endian words, the 4-byte word
    after them (or None), the remaining bytes."""
    n, length = data.shape
    k8 = length // 8
    words8 = np.ascontiguousarray(data[:, : k8 * 8]).view("<u8").astype(np.uint64)
    rest = length - k8 * 8
    word4 = None
    if rest >= 4:
        word4 = np.ascontiguousarray(data[:, k8 * 8 : k8 * 8 + 4]).view("<u4")[:, 0]
        word4 = word4.astype(np.uint64)
    tail = data[:, k8 * 8 + (4 if rest >= 4 else 0) :].astype(np.uint64)
    return words8.reshape(n, k8), word4, tail


def _xxh64_parts(
    words8: np.ndarray, word4: np.ndarray | None, tail: np.ndarray, length: int, seeds: np.ndarray
) -> np.ndarray:
    n = len(seeds)
    zero = np.zeros(n, np.uint64)
    if length >= 32:
        v1, v2, v3, v4 = seeds + P1 + P2, seeds + P2, seeds.copy(), seeds - P1
        for pos in range(0, length // 32 * 4, 4):  # 32-byte stripes, 4 words each
            v1 = _round(v1, words8[:, pos])
            v2 = _round(v2, words8[:, pos + 1])
            v3 = _round(v3, words8[:, pos + 2])
            v4 = _round(v4, words8[:, pos + 3])
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        for v in (v1, v2, v3, v4):
            h = (h ^ _round(zero, v)) * P1 + P4
    else:
        h = seeds + P5
    h = h + np.uint64(length)
    for j in range(length // 32 * 4, words8.shape[1]):
        h = _rotl(h ^ _round(zero, words8[:, j]), 27) * P1 + P4
    if word4 is not None:
        h = _rotl(h ^ (word4 * P1), 23) * P2 + P3
    for j in range(tail.shape[1]):
        h = _rotl(h ^ (tail[:, j] * P5), 11) * P1
    return _avalanche(h)


def _fixed(values: np.ndarray, seeds: np.ndarray, width: int) -> np.ndarray:
    """Numbers as Spark hashes them: `width` (4 or 8) little-endian bytes each."""
    values = values.astype(np.uint64)
    if width == 8:
        return _xxh64_parts(values[:, None], None, np.zeros((len(values), 0), np.uint64), 8, seeds)
    return _xxh64_parts(np.zeros((len(values), 0), np.uint64), values & np.uint64(0xFFFFFFFF),
                        np.zeros((len(values), 0), np.uint64), 4, seeds)  # fmt: skip


def _double_bits(values: np.ndarray) -> np.ndarray:
    """A double's IEEE bits, -0.0 as 0.0 (Spark normalises it); NaN never comes here (missing)."""
    return np.where(values == 0.0, 0.0, values).astype("<f8").view("<u8")


def _strings(values: pd.Series, seeds: np.ndarray) -> np.ndarray:
    """UTF-8 strings, hashed per row (the seed differs per row): each distinct string's words
    worked out once, then gathered by the rows holding it, one byte length at a time."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # its own codes: no second factorize
        codes, uniques = values.cat.codes.to_numpy(), values.cat.categories
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    encoded = [str(u).encode("utf-8") for u in uniques]
    lengths = np.array([len(b) for b in encoded], dtype=np.int64)
    out = seeds.copy()
    row_lengths = np.where(codes >= 0, lengths[np.maximum(codes, 0)] if len(lengths) else 0, -1)
    order = np.argsort(row_lengths, kind="stable")  # rows grouped by byte length, nulls first
    bounds = np.searchsorted(row_lengths[order], [*np.unique(lengths).tolist(), np.inf])
    for length, lo, hi in zip(np.unique(lengths).tolist(), bounds[:-1], bounds[1:], strict=True):
        if lo == hi:
            continue
        table = np.zeros((len(uniques), length), dtype=np.uint8)
        for i in np.flatnonzero(lengths == length):
            table[i] = np.frombuffer(encoded[i], dtype=np.uint8)
        words8, word4, tail = _parts(table)
        rows = order[lo:hi]
        at = codes[rows]
        out[rows] = _xxh64_parts(words8[at], None if word4 is None else word4[at], tail[at],
                                 length, seeds[rows])  # fmt: skip
    return out


CHUNK_ROWS = 1 << 18  # rows hashed together: temporaries stay in cache, chunks run in threads


def spark_row_hash(frame: pd.DataFrame, columns: list[str], salt: int | None = None) -> np.ndarray:
    """Spark's `xxhash64(*columns)` of every row, as int64 (Spark's type); with `salt` (a
    seed), Spark's `xxhash64(lit(salt).cast("long"), *columns)`. Integer columns as Spark's
    long, floats as double, text and categorical columns as strings (a category as its text,
    which is how the cleaning holds every category); missing values (None,
    NaN, pd.NA) are nulls, skipped as Spark skips them. Chunks of rows are hashed on two
    threads (numpy's integer kernels release the GIL)."""
    if len(frame) <= CHUNK_ROWS:
        return _row_hash(frame, columns, salt)
    starts = range(0, len(frame), CHUNK_ROWS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = pool.map(lambda at: _row_hash(frame.iloc[at : at + CHUNK_ROWS], columns, salt),
                         starts)  # fmt: skip
        return np.concatenate(list(parts))


def _row_hash(frame: pd.DataFrame, columns: list[str], salt: int | None) -> np.ndarray:
    hashes = np.full(len(frame), SPARK_SEED, dtype=np.uint64)
    if salt is not None:
        hashes = _fixed(np.full(len(frame), salt, dtype=np.int64).view(np.uint64), hashes, 8)
    for col in columns:
        values = frame[col]
        dtype = values.dtype
        missing = values.isna().to_numpy()
        if pd.api.types.is_bool_dtype(dtype):
            new = _fixed(values.fillna(False).to_numpy(dtype=np.uint32), hashes, 4)
        elif pd.api.types.is_integer_dtype(dtype):
            new = _fixed(values.fillna(0).to_numpy(dtype=np.int64).view(np.uint64), hashes, 8)
        elif pd.api.types.is_datetime64_any_dtype(dtype):  # Spark: microseconds since 1970
            if values.dt.tz is not None:  # an instant: its UTC time (a naive one as it is)
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            micros = values.to_numpy(dtype="datetime64[us]").view(np.int64)  # NaT: masked
            new = _fixed(micros.view(np.uint64), hashes, 8)
        elif pd.api.types.is_float_dtype(dtype):
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            new = _fixed(_double_bits(numbers), hashes, 8)
        else:  # text, and categoricals as their categories' text (as the cleaning holds them)
            new = _strings(values, hashes)
        hashes = np.where(missing, hashes, new)
    return hashes.view(np.int64)
