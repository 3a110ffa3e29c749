"""Which trainflow modules a module can import, transitively (read from the source, not run):
what a bento must ship for its service and its champion's family, and what a stage's dvc.yaml
entry must list."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def module_file(name: str, root: Path = PACKAGE) -> Path | None:
    """The file of a dotted trainflow module (a package's __init__.py), or None."""
    base = root.parent / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def direct_imports(path: Path, root: Path = PACKAGE) -> set[Path]:
    """trainflow modules a file imports, anywhere in it (also inside functions), except under
    `if TYPE_CHECKING:` (names for type hints only: nothing runs them)."""
    found: set[Path] = set()
    tree = ast.parse(path.read_text())
    hints = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
             and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
             for n in ast.walk(block)}  # fmt: skip
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == root.name:
                found |= {f for i in range(1, len(parts) + 1)  # packages on the way too
                          if (f := module_file(".".join(parts[:i]), root))}  # fmt: skip
    return found


def closure(files: list[Path], root: Path = PACKAGE) -> set[Path]:
    """`files` and every trainflow module they import, transitively."""
    seen: set[Path] = set()
    todo = list(files)
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += direct_imports(path, root)
    return seen


def shipped_modules(entry_points: tuple[str, ...], root: Path = PACKAGE) -> tuple[str, ...]:
    """Paths (relative to the package) of everything `entry_points` can import, sorted."""
    files = closure([root / e for e in entry_points], root)
    return tuple(sorted(p.relative_to(root).as_posix() for p in files))
