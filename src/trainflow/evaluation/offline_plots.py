"""Build an HTML template for `dvc plots show` with vega, vega-lite and vega-embed inlined.

DVC's default page loads those scripts from a CDN; with the vendored copies inlined
(trainflow/assets/vendor) the rendered plots open with no network.
"""

from __future__ import annotations

import sys
from pathlib import Path

from trainflow.io import atomic_path
from trainflow.webassets import inline_scripts

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


def render_template() -> str:
    return PAGE.format(scripts=inline_scripts())


def main() -> None:
    target = Path(sys.argv[1])
    with atomic_path(target) as out:
        out.write_text(render_template())
    print(f"wrote {target}")


if __name__ == "__main__":
    from trainflow.stages import run_stage

    run_stage("plots-template", main)
