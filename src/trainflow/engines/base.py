"""What each part of a data engine does for the five data stages. The stage shells keep what
is the same for every engine (provenance, the gates' reports and stop, metrics files); an
engine reads, cleans, validates and splits tables its own way, with the same results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from trainflow.data.clean import CleaningReport
    from trainflow.data.contract import ValidationReport
    from trainflow.params import Params


@dataclass
class Ingested:
    """What ingest wrote: its size, and the labelled feedback files appended to it."""

    rows: int
    columns: int
    feedback_files: list[Path] = field(default_factory=list)
    feedback_rows: int = 0


class IngestPart(Protocol):
    def ingest(self, params: Params, table: Path) -> Ingested:
        """Read the configured source (sampled, feedback appended) and write the raw table
        (a Parquet file or dataset) at `table`."""
        ...


class GatePart(Protocol):
    """A table is whatever the engine holds (a pandas frame, a Spark DataFrame)."""

    def read(self, table: Path, params: Params) -> Any:
        """A table written by one of the stages."""
        ...

    def raw_view(self, raw: Any, params: Params) -> tuple[Any, Any]:
        """What the raw contract sees of the raw table (surrounding white space ignored), and
        the names of its rows (image files) or None."""
        ...

    def check(
        self, table: Any, suite: dict, row_names: Any = None
    ) -> tuple[ValidationReport, Path]:
        """Run a Great Expectations suite on the table; Data Docs in a fresh temporary folder."""
        ...

    def profile(self, table: Any) -> dict:
        """trainflow.data.profile's per-column profile of the table."""
        ...


class PreparePart(Protocol):
    def prepare(self, params: Params, raw: Path, table: Path) -> CleaningReport:
        """Clean the raw table (trainflow.data.clean's rules) and write it at `table`."""
        ...


class SplitPart(Protocol):
    def split(self, params: Params, prepared: Path, out: Path) -> dict:
        """Split the prepared table into out/{train,val,test}.parquet with the leakage gate and
        the manifest (out/manifest.parquet, out/manifest.json); the split metrics."""
        ...


class FetchPart(Protocol):
    def export(self, source: Any, params: Params, out: Path) -> tuple[int, int]:
        """Export a live source (ingest.source: sql or s3) to the snapshot `out` (a Parquet
        file or dataset, the same bytes for the same content); (rows, columns)."""
        ...
