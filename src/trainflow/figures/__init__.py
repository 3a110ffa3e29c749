"""Every figure in README.md and docs/ from a committed result file: `trainflow figures`.

A page holds its measured figures in generated regions,

    <!-- generated: NAME -->
    ...
    <!-- /generated -->

each rendered by the function registered as NAME (trainflow.figures.readme, .pages) from
committed files only: the pipeline's metrics under metrics/ and the benchmarks' records under
benchmarks/results/ (figures, date, commit, machine, command). `trainflow figures` rewrites
every region from them; `trainflow figures --check` (a test runs it) fails on a region that
differs from its rendering, a region no renderer knows, and a figure outside any region on
a page that is held to this (a measurement in prose or in a console sample that no file
backs). A changed result file therefore changes its page in the same commit, or the test
fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainflow.errors import StageError

RESULTS_DIR = Path("benchmarks/results")
REGION = re.compile(
    r"<!-- generated: (?P<name>[\w./-]+) -->\n(?P<body>.*?)<!-- /generated -->", re.S
)
Renderer = Callable[["Sources"], str]
RENDERERS: dict[str, Renderer] = {}


def renderer(name: str) -> Callable[[Renderer], Renderer]:
    """Register a region's renderer under `name`."""

    def register(fn: Renderer) -> Renderer:
        if name in RENDERERS:
            raise ValueError(f"renderer {name!r} registered twice")
        RENDERERS[name] = fn
        return fn

    return register


@dataclass
class Sources:
    """The committed files figures come from, read once each."""

    root: Path

    def __post_init__(self) -> None:
        self._cache: dict[Path, Any] = {}
        self.used: set[str] = set()

    def json(self, rel: str | Path) -> Any:
        path = self.root / rel
        if path not in self._cache:
            try:
                self._cache[path] = json.loads(path.read_text())
            except FileNotFoundError:
                raise StageError(f"{rel}: missing (a figure's source file)") from None
        self.used.add(str(rel))
        return self._cache[path]

    def result(self, name: str) -> dict[str, Any]:
        """benchmarks/results/<name>.json: {name, date, commit, command, machine, figures}."""
        return self.json(RESULTS_DIR / f"{name}.json")

    def figures(self, name: str) -> dict[str, Any]:
        return self.result(name)["figures"]


# A measurement written in prose or a console sample: a number with a unit of time, size,
# share or speed, or a metric-like decimal (0.8743). Versions, params and counts are not.
UNIT = r"(?:ms|s|min|h|GB|GiB|MB|MiB|KB|%|×|x|rows/s|samples/s|requests/s|/s)"
FIGURE = re.compile(
    rf"(?<![\w.$=-])(?:\d+(?:,\d{{3}})*(?:\.\d+)?\s?{UNIT}(?![\w/])|0\.\d{{3,}}|\d+\.\d*[1-9]\d*e-\d+)"
)
NOT_A_FIGURE = re.compile(
    r"\b(?:v|Python|torch|version|==|>=|<=)\s?\d+(?:\.\d+)+"
    r"|\b(?:low|high):\s?\d+(?:\.\d+)?"  # a search space's bounds: settings
    r"|\b\d+ ?% (?:interval|confidence)"  # a confidence level: a setting
    r"|\b\d+ ?× ?\d+\b"  # a shape (2 × 2 table, 8x8 pixels)
    r"|\bbound (?:AUROC|R²) \d(?:\.\d+)?"  # split.single_feature.max_power as a score: a setting
)


def stray_figures(text: str) -> list[str]:
    """Figures outside every generated region: 'line N: token'."""
    outside = REGION.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found = []
    for number, line in enumerate(outside.splitlines(), 1):
        line = NOT_A_FIGURE.sub("", line)
        found += [f"line {number}: {m.group(0)}" for m in FIGURE.finditer(line)]
    return found


def render(text: str, sources: Sources) -> str:
    """`text` with every generated region rendered anew (an unknown name is an error)."""

    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in RENDERERS:
            raise StageError(f"no renderer for the generated region {name!r}")
        try:
            body = RENDERERS[name](sources).rstrip("\n") + "\n"
        except KeyError as err:
            raise StageError(f"the generated region {name!r}: its source has no {err} (rerun "
                             "the benchmark that writes it)") from None  # fmt: skip
        return f"<!-- generated: {name} -->\n{body}<!-- /generated -->"

    return REGION.sub(fill, text)


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


HELD = (
    "README.md",
    "docs/batch-scoring.md",
    "docs/data.md",
    "docs/experiments.md",
    "docs/lifecycle.md",
    "docs/operations.md",
    "docs/pipeline.md",
    "docs/registry.md",
    "docs/reproducibility.md",
    "docs/rollout.md",
    "docs/serving.md",
    "docs/shipping.md",
    "docs/text.md",
)
"""Pages whose every figure must come from a generated region. The other pages still quote
figures by hand; each moves here once its figures are regions."""


def check(root: Path) -> list[str]:
    """Every problem: stale regions (on every page), stray figures (on held pages)."""
    _load_renderers()
    sources = Sources(root)
    problems = []
    for page in documents(root):
        rel = page.relative_to(root).as_posix()
        text = page.read_text()
        try:
            if render(text, sources) != text:
                problems.append(f"{rel}: a generated region differs from its sources "
                                "(run `trainflow figures`)")  # fmt: skip
        except StageError as err:
            problems.append(f"{rel}: {err}")
        if rel in HELD:
            problems += [f"{rel}: {s}: no source (put it in a generated region)"
                         for s in stray_figures(text)]  # fmt: skip
    return problems


def write(root: Path) -> list[Path]:
    """Render every page's regions in place; the pages that changed."""
    _load_renderers()
    sources = Sources(root)
    changed = []
    for page in documents(root):
        text = page.read_text()
        new = render(text, sources)
        if new != text:
            page.write_text(new)
            changed.append(page)
    return changed


def _load_renderers() -> None:
    import trainflow.figures.examples
    import trainflow.figures.lifecycle
    import trainflow.figures.pages
    import trainflow.figures.readme
    import trainflow.figures.shipping  # noqa: F401  (each module registers its renderers)


def main(check_only: bool, root: Path = Path(".")) -> None:
    if check_only:
        problems = check(root)
        if problems:
            raise StageError(f"{len(problems)} figure problem(s):\n" + "\n".join(problems))
        print("every generated region matches its sources; held pages have no stray figure")
        return
    for page in write(root):
        print(f"rendered {page.relative_to(root)}")
