"""dvc.yaml lists exactly the code each stage runs: a library module a stage imports but does
not list would let an edit to it go unnoticed by `dvc repro` (a stale, wrong output)."""

import ast
from pathlib import Path

import pytest
import yaml

from trainflow.imports import closure, shipped_modules
from trainflow.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


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
    return {str(p.relative_to(ROOT)) for p in closure(todo)
            if p.name != "__init__.py" or _has_code(p)}  # fmt: skip


def _variants(stage: str) -> list[tuple[str, list[str], list[str]]]:
    """(name, listed src deps, extra modules the stage loads by name) per stage variant: one
    per family for the foreach train stage (it imports trainflow.families.<family> by name)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    if "foreach" not in spec:
        from trainflow.engines import ENGINES, PARTS

        # a data stage runs its part of whichever engine data.engine names
        parts = [f"src/{e.replace('.', '/')}/{PARTS[stage]}.py" for e in ENGINES.values()
                 if stage in PARTS]  # fmt: skip
        return [(stage, spec["deps"], parts)]
    from trainflow.families import FAMILIES

    return [(f"{stage}@{key}", [d.replace("${key}", key) for d in spec["do"]["deps"]],
             [f"src/trainflow/families/{key}.py"]) for key in FAMILIES]  # fmt: skip


@pytest.mark.parametrize("stage", STAGES)
def test_stage_lists_exactly_the_code_it_imports(stage):
    used: set[str] = set()
    all_listed: set[str] = set()
    for name, deps, loaded in _variants(stage):
        # code: modules and packages (a folder of data files, such as vendored page assets, is
        # a data dependency like any other)
        listed = {d for d in deps if d.startswith("src/")
                  and (d.endswith(".py") or any((ROOT / d).rglob("*.py")))}  # fmt: skip
        folders = {d for d in listed if (ROOT / d).is_dir()}  # e.g. the bento's build context
        needed = code_closure(stage, folders) | _closure([ROOT / m for m in loaded])
        covered = {n for n in needed if any(n.startswith(f"{f}/") for f in folders)}
        missing = needed - listed - covered
        assert not missing, f"{name}: imports but does not list {sorted(missing)}"
        used |= {d for d in listed if d in needed or (d in folders and any(
            n.startswith(f"{d}/") for n in needed))}  # fmt: skip
        all_listed |= listed
    # a foreach stage lists one set for every family: each entry must serve one of them
    unused = all_listed - used
    assert not unused, f"{stage}: lists but does not import {sorted(unused)}"


def test_bento_ships_what_the_service_and_the_champions_family_import():
    """Computed from the source: the gbdt champion's bento ships LightGBM's family module and
    not the networks; an MLP's ships the networks and not the trees."""
    tree = shipped_modules(("serving/service.py", "families/gbdt.py"))
    net = shipped_modules(("serving/service.py", "families/mlp.py"))
    for shipped in (tree, net):
        assert {"serving/service.py", "serving/predictor.py", "families/__init__.py",
                "data/clean.py", "model/preprocess.py", "params.py"} <= set(shipped)  # fmt: skip
        assert not any(m.startswith("stages/") for m in shipped)
    assert "families/gbdt.py" in tree and "model/network.py" not in tree
    assert {"families/mlp.py", "model/network.py", "model/explain.py"} <= set(net)
    assert "families/gbdt.py" not in net
