"""A split as training reads it: whole in memory (`FrameSplit`), or streamed from its Parquet
file or dataset of parts (`ParquetSplit`, `train.data: stream`), for splits larger than memory.

Both answer the same questions: how many rows, one column (what the preprocessor is fitted on:
one column at a time, so its statistics are exact and the same either way), the whole frame
(for the families that need it). A ParquetSplit also lists its pieces: row groups (a Parquet
file's unit of reading), each cut in `cuts` equal slices when a split has fewer groups than a
distributed run has processes; `read` reads one piece, categorical columns as pandas
categories (their dictionary), so a piece costs its codes, not a Python string per row.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trainflow.errors import StageError


@dataclass(frozen=True, order=True)
class Piece:
    """Rows [start, stop) of row group `group` of `file`."""

    file: Path
    group: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


class FrameSplit:
    """A split held whole in memory."""

    streamed = False

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    @property
    def rows(self) -> int:
        return len(self._frame)

    def column(self, name: str) -> pd.Series:
        return self._frame[name]

    def frame(self) -> pd.DataFrame:
        return self._frame


class ParquetSplit:
    """A split read from Parquet piece by piece (never whole, unless `frame()` is asked)."""

    streamed = True

    def __init__(self, path: Path, categorical: list[str] = ()) -> None:
        import pyarrow.parquet as pq

        if not path.exists():
            raise StageError(f"{path}: not found (run the stages before this one)")
        self.path = path
        self.files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
        self.categorical = list(categorical)
        self.groups: list[tuple[Path, int, int]] = []  # (file, group, rows), in file order
        for file in self.files:
            meta = pq.ParquetFile(file).metadata
            groups = (meta.row_group(g).num_rows for g in range(meta.num_row_groups))
            self.groups += [(file, g, rows) for g, rows in enumerate(groups)]
        self.groups = [g for g in self.groups if g[2]]

    @property
    def rows(self) -> int:
        return sum(rows for _, _, rows in self.groups)

    def _file(self, file: Path):
        import pyarrow.parquet as pq

        return pq.ParquetFile(file, read_dictionary=self._dictionary(file))

    def _dictionary(self, file: Path) -> list[str]:
        import pyarrow.parquet as pq

        names = pq.ParquetFile(file).schema_arrow.names
        return [c for c in self.categorical if c in names]

    def column(self, name: str) -> pd.Series:
        """One column over every row, in row order (one column's memory, not the table's)."""
        import pyarrow as pa

        table = pa.concat_tables([self._file(f).read(columns=[name]) for f in self.files])
        # Arrow's buffers are released as pandas takes the values: one copy, not two
        return table.to_pandas(self_destruct=True, split_blocks=True)[name]

    def frame(self) -> pd.DataFrame:
        """The whole split in memory (families that fit on all rows at once)."""
        return pd.concat([self._file(f).read().to_pandas() for f in self.files],
                         ignore_index=True)  # fmt: skip

    def pieces(self, cuts: int = 1) -> list[Piece]:
        """Every row group, in file order, each cut in `cuts` slices of (nearly) equal rows."""
        out = []
        for file, group, rows in self.groups:
            edges = [rows * k // cuts for k in range(cuts + 1)]
            out += [Piece(file, group, a, b) for a, b in itertools.pairwise(edges) if b > a]
        return out

    def read(self, piece: Piece, columns: list[str] | None = None) -> pd.DataFrame:
        table = self._file(piece.file).read_row_group(piece.group, columns=columns)
        if piece.start or piece.stop < table.num_rows:
            table = table.slice(piece.start, piece.rows)
        return table.to_pandas()


Split = FrameSplit | ParquetSplit


def as_split(data: pd.DataFrame | Split) -> Split:
    """A frame as a FrameSplit; a split as itself."""
    return FrameSplit(data) if isinstance(data, pd.DataFrame) else data
