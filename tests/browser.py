"""Pages as a person sees them: a real headless Chromium with the network cut, and a probe
script that reports what rendered (computed styles, scripts that ran, remote loads)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no host resolves: the network is cut
    "--virtual-time-budget=8000", "--window-size=1280,1200",
]  # fmt: skip
PROBE_ATTR = re.compile(r'data-probe="([^"]*)"')


def need_chromium() -> str:
    if CHROMIUM is None:
        pytest.skip("no Chromium: `make services` installs Debian's chromium package")
    return CHROMIUM


def probe(page: Path, script: str, workdir: Path) -> dict:
    """Open `page` (beside it, a copy with `script` added), let it load with no network, and
    return what `script` put in document.body's data-probe attribute (JSON)."""
    chromium = need_chromium()
    copy = page.with_name(f".probe-{page.name}")
    text = page.read_text()
    hook = f"<script>window.addEventListener('load', () => setTimeout(() => {{{script}}}, 300));" \
           "</script>"  # fmt: skip
    head, found, tail = text.rpartition("</body>")  # the page's own (scripts may hold one)
    copy.write_text(head + hook + found + tail if found else text + hook)
    try:
        done = subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={workdir / 'chromium'}", "--dump-dom",
             copy.resolve().as_uri()], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        copy.unlink()
    found = PROBE_ATTR.search(done.stdout)
    assert found, f"the probe did not run: {done.stderr[-500:]}"
    return json.loads(html.unescape(found.group(1)))


REPORT = "document.body.setAttribute('data-probe', JSON.stringify(r));"
REMOTE = ("performance.getEntriesByType('resource').map(e => e.name)"
          ".filter(n => !n.startsWith('file:') && !n.startsWith('data:'))")  # fmt: skip
