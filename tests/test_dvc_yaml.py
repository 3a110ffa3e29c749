"""dvc.yaml lists exactly the code each stage runs: a library module a stage imports but does
not list would let an edit to it go unnoticed by `dvc repro` (a stale, wrong output)."""

import ast
from pathlib import Path

import pytest
import yaml

from trainflow.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _module_file(name: str) -> Path | None:
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[Path]:
    """trainflow modules a file imports (anywhere in it, also inside functions)."""
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] == "trainflow" and (file := _module_file(name)):
                found.add(file)
    return found


def _has_code(path: Path) -> bool:
    """A package __init__ with only a docstring / version string runs nothing that matters."""
    body = ast.parse(path.read_text()).body
    return any(not isinstance(s, ast.Expr | ast.Assign) for s in body)


def code_closure(stage: str, folders: set[str]) -> set[str]:
    """The stage's module, files in folders it ships whole (the bento's build context), and
    every trainflow module they import, transitively."""
    todo = [SRC / "trainflow" / "stages" / f"{stage}.py"]
    todo += [p for f in folders for p in (ROOT / f).rglob("*.py")]
    return _closure(todo)


def _closure(todo: list[Path]) -> set[str]:
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo += _imports(path)
    return {str(p.relative_to(ROOT)) for p in seen if p.name != "__init__.py" or _has_code(p)}


@pytest.mark.parametrize("stage", STAGES)
def test_stage_lists_exactly_the_code_it_imports(stage):
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    listed = {d for d in spec["deps"] if d.startswith("src/")}
    folders = {d for d in listed if (ROOT / d).is_dir()}  # e.g. the bento's build context
    needed = code_closure(stage, folders)
    covered = {n for n in needed if any(n.startswith(f"{f}/") for f in folders)}
    missing = needed - listed - covered
    assert not missing, f"{stage}: imports but does not list {sorted(missing)}"
    unused = {d for d in listed - needed if d not in folders or not any(
        n.startswith(f"{d}/") for n in needed)}  # fmt: skip
    assert not unused, f"{stage}: lists but does not import {sorted(unused)}"


def test_bento_ships_every_module_the_service_imports():
    from trainflow.serving.bundle import SERVING_MODULES

    needed = _closure([SRC / "trainflow" / "serving" / "service.py"])
    shipped = {f"src/trainflow/{m}" for m in SERVING_MODULES}
    assert not {n for n in needed if n not in shipped}
