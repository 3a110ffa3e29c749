"""Pages render offline: Data Docs with their styles, tables and icons; the experiment
comparison page with every plot drawn. Checked in a real headless Chromium with no network."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from tests.browser import REMOTE, REPORT, probe
from trainflow.data.contract import run_suite
from trainflow.webassets import offline_page, remote_resources

DATA_DOCS_PROBE = f"""
const icon = document.querySelector('[class*="fa-"]');
const button = document.querySelector('.btn-primary, .btn-info, .btn');
const r = {{
  jquery: typeof window.jQuery, tables: document.querySelectorAll('.bootstrap-table').length,
  searchBoxes: document.querySelectorAll('.bootstrap-table .search input').length,
  button: button ? getComputedStyle(button).backgroundColor : null,
  bodyFont: getComputedStyle(document.body).fontFamily,
  icon: icon ? getComputedStyle(icon, '::before').fontFamily : null,
  iconFont: document.fonts.check('900 16px "Font Awesome 6 Free"'),
  remote: {REMOTE},
}};
{REPORT}"""


# Bootstrap 4's .btn-primary (#007bff), its active / hover shades (#0062cc, #0069d9)
BOOTSTRAP_BLUES = ("rgb(0, 123, 255)", "rgb(0, 98, 204)", "rgb(0, 105, 217)")


@pytest.fixture(scope="module")
def data_docs(tmp_path_factory):
    """Data Docs of a real validation run (a failing expectation among passing ones)."""
    docs = tmp_path_factory.mktemp("docs")
    frame = pd.DataFrame({"age": [25, 40, -3, 61], "city": ["Oslo", "Rome", "Oslo", None]})
    suite = {"name": "people", "expectations": [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "age", "min_value": 0, "max_value": 120}},
        {"type": "expect_column_values_to_not_be_null",
         "kwargs": {"column": "city", "mostly": 0.5}},
    ]}  # fmt: skip
    report = run_suite(frame, suite, docs)
    assert not report.success
    return docs


def validation_page(docs):
    return next(docs.glob("validations/**/*.html"))


def test_data_docs_load_nothing_from_the_network(data_docs):
    pages = sorted(data_docs.rglob("*.html"))
    assert len(pages) >= 2
    for page in pages:
        assert remote_resources(page.read_text()) == [], page
    assert (data_docs / "static/vendor/css/bootstrap.min.css").exists()


def test_data_docs_render_styled_with_their_tables_in_a_browser(data_docs, tmp_path):
    shown = probe(validation_page(data_docs), DATA_DOCS_PROBE, tmp_path)
    assert shown["remote"] == []
    assert shown["jquery"] == "function" and shown["tables"] >= 2 and shown["searchBoxes"] >= 2
    assert shown["button"] in BOOTSTRAP_BLUES
    assert "Font Awesome 6 Free" in shown["icon"] and shown["iconFont"] is True


def test_the_probe_sees_a_page_whose_assets_are_missing(data_docs, tmp_path):
    """The check above can fail: the same page with its CDN links (as GX writes it) renders
    unstyled with no results table when the network is cut."""
    broken = tmp_path / "broken"
    shutil.copytree(data_docs, broken)
    page = validation_page(broken)
    page.write_text(page.read_text().replace("static/vendor/", "https://cdn.invalid/"))
    shown = probe(page, DATA_DOCS_PROBE, tmp_path)
    assert shown["jquery"] == "undefined" and shown["tables"] == 0
    assert shown["button"] not in BOOTSTRAP_BLUES


def test_offline_page_rewrites_each_cdn_url_relative_to_the_page():
    page = ('<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/'
            'bootstrap.min.css"/><script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
            '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/'
            'logo-long.png?d=1"><a href="https://greatexpectations.io">GX</a>')  # fmt: skip
    out = offline_page(page, "../..")
    assert 'href="../../static/vendor/css/bootstrap.min.css"' in out
    assert 'src="../../static/vendor/js/vega.min.js"' in out
    assert 'src="../../static/images/logo-long.png"' in out
    assert remote_resources(out) == []  # a plain link is not a load
    assert remote_resources(page) == [
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
        "https://cdn.jsdelivr.net/npm/vega@5",
        "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1",
    ]
