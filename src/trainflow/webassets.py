"""Pages that render with no network: the CDN links of HTML pages replaced by vendored copies.

Great Expectations' Data Docs load Bootstrap, bootstrap-table, jQuery, Font Awesome and vega
from CDNs; offline they render as unstyled text without their results table. `make_offline`
copies the vendored files (trainflow/assets/vendor, see its NOTICE.md) into a page folder and
points every page at them; `inline_scripts` gives the vega builds for self-contained pages.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

VENDOR = Path(__file__).resolve().parent / "assets" / "vendor"
VENDOR_DIR = "static/vendor"  # inside a page folder

# (pattern of a CDN URL, vendored file): every URL GX 1.24's Data Docs load
CDN_FILES = (
    (r"https://maxcdn\.bootstrapcdn\.com/bootstrap/4\.3\.1/css/bootstrap\.min\.css",
     "css/bootstrap.min.css"),
    (r"https://stackpath\.bootstrapcdn\.com/bootstrap/4\.3\.1/js/bootstrap\.min\.js",
     "js/bootstrap.min.js"),
    (r"https://code\.jquery\.com/jquery-3\.7\.1\.min\.js", "js/jquery.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/popper\.js/1\.12\.9/umd/popper\.min\.js",
     "js/popper.min.js"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/bootstrap-table\.min\.css",
     "css/bootstrap-table.min.css"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/bootstrap-table\.min\.js",
     "js/bootstrap-table.min.js"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/extensions/filter-control/"
     r"bootstrap-table-filter-control(?:\.min)?\.css",
     "css/bootstrap-table-filter-control.min.css"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.[01]/dist/extensions/filter-control/"
     r"bootstrap-table-filter-control\.min\.js", "js/bootstrap-table-filter-control.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/1\.9\.0/css/"
     r"bootstrap-datepicker\.min\.css", "css/bootstrap-datepicker.min.css"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/1\.9\.0/js/"
     r"bootstrap-datepicker\.min\.js", "js/bootstrap-datepicker.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/@forevolve/bootstrap-dark@1\.1\.0/dist/css/"
     r"bootstrap-prefers-dark\.css", "css/bootstrap-prefers-dark.min.css"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/font-awesome/6\.6\.0/css/all\.min\.css",
     "css/fontawesome-all.min.css"),
    (r"https://cdn\.jsdelivr\.net/npm/vega@5", "js/vega.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/vega-lite@5", "js/vega-lite.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/vega-embed@6", "js/vega-embed.min.js"),
)  # fmt: skip
# GX's logos, served from S3: the docs folder has its own copy of the logo
LOGOS = re.compile(
    r"https://great-expectations-web-assets\.s3\.[\w.-]+/[\w.-]+\.png(?:\?[^\"')]*)?"
)
LOADED = re.compile(r"""(?:src|href)=["'](https?://[^"']+)["']|url\(['"]?(https?://[^'")]+)""")
LINK_TAG = re.compile(r"<a\s[^>]*href=", re.IGNORECASE)


def offline_page(html: str, to_root: str) -> str:
    """`html` with every CDN asset pointed at the vendored copy (`to_root`: the relative path
    from the page to its folder's root, '' or '../..')."""
    prefix = f"{to_root}/" if to_root else ""
    for pattern, vendored in CDN_FILES:
        html = re.sub(pattern, f"{prefix}{VENDOR_DIR}/{vendored}", html)
    return LOGOS.sub(f"{prefix}static/images/logo-long.png", html)


def remote_resources(html: str) -> list[str]:
    """URLs a page would load from the network (scripts, styles, images; not plain links)."""
    found = []
    for match in LOADED.finditer(html):
        start = html.rfind("<", 0, match.start())
        if LINK_TAG.match(html, start):  # <a href=...>: a link a reader may follow
            continue
        found.append(match.group(1) or match.group(2))
    return found


def make_offline(folder: Path) -> None:
    """Copy the vendored assets into `folder` and point every page under it at them;
    ValueError naming the page and URL if a page would still load something remote."""
    shutil.copytree(VENDOR, folder / VENDOR_DIR, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("NOTICE.md", "licenses"))  # fmt: skip
    for page in sorted(folder.rglob("*.html")):
        to_root = os.path.relpath(folder, page.parent)
        text = offline_page(page.read_text(), "" if to_root == "." else to_root)
        remote = remote_resources(text)
        if remote:
            raise ValueError(f"{page}: would load {remote[0]} from the network")
        page.write_text(text)


def inline_scripts(names: tuple[str, ...] = ("vega", "vega-lite", "vega-embed")) -> str:
    """<script> tags holding the vendored builds, for a page that stands alone."""
    return "\n".join(f"<script>{(VENDOR / 'js' / f'{n}.min.js').read_text()}</script>"
                     for n in names)  # fmt: skip
