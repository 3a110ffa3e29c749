"""Build an HTML template for `dvc plots show` with vega, vega-lite and vega-embed inlined.

DVC's default page loads those scripts from a CDN; with them inlined (taken from the npm
registry once, with `npm pack`) the rendered plots open with no network.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from trainflow.errors import StageError
from trainflow.io import atomic_path

PACKAGES = {  # npm package -> the browser build inside it
    "vega@5": "build/vega.min.js",
    "vega-lite@5": "build/vega-lite.min.js",
    "vega-embed@6": "build/vega-embed.min.js",
}
PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>trainflow plots</title>
{scripts}
<style>body {{ font-family: sans-serif; }} .plot {{ display: inline-block; margin: 1em; }}</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def fetch_scripts(workdir: Path) -> list[str]:
    """`npm pack` each package and return the browser builds' source, in load order."""
    sources = []
    for spec, member in PACKAGES.items():
        done = subprocess.run(
            ["npm", "pack", "--silent", spec], cwd=workdir, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise StageError(f"npm pack {spec} failed: {done.stderr.strip()[-300:]}")
        tarball = workdir / done.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as tar:
            handle = tar.extractfile(f"package/{member}")
            if handle is None:
                raise StageError(f"{tarball.name}: has no {member}")
            sources.append(handle.read().decode())
    return sources


def render_template(scripts: list[str]) -> str:
    tags = "\n".join(f"<script>{src}</script>" for src in scripts)
    return PAGE.format(scripts=tags)


def main() -> None:
    target = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp, atomic_path(target) as out:
        out.write_text(render_template(fetch_scripts(Path(tmp))))
    print(f"wrote {target}")


if __name__ == "__main__":
    from trainflow.stages import run_stage

    run_stage("plots-template", main)
