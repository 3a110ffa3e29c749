"""`trainflow verify`: a revision rerun in a fresh clone, compared bit for bit."""

import json
import re
import shutil

import pytest
import yaml

from tests.conftest import run

pytestmark = pytest.mark.slow


def test_verify_reruns_a_revision_in_a_fresh_clone_bit_for_bit(pipeline_repo, tmp_path):
    """`trainflow verify`: the committed sample run reproduces, every output identical (the
    timings file excepted, the bundle by its content hash); a tampered record is caught,
    named, and exits non-zero."""

    source, env, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "recorded run", "--allow-empty"], repo, env)
    done = run(["trainflow", "verify", "--workdir", str(tmp_path / "v1")], repo, env)
    assert (
        "reproduced: every output of HEAD is bit-identical, but for the declared "
        "exceptions marked above"
    ) in done.stdout
    table = done.stdout
    for family in ("linear", "mlp", "resnet", "gbdt"):
        assert re.search(rf"train@{family}\s+models/families/{family}\s+(\w+)\s+\1\s+identical",
                         table), table  # fmt: skip
    assert re.search(r"select\s+models/champion\s+(\w+)\s+\1\s+identical", table)
    # another commit in the card's lineage: other bytes, the same content hash
    assert re.search(r"package\s+models/bundle\s+(\w+)\s+(?!\1)\w+\s+identical\* \(only the "
                     r"card's lineage differs", table)  # fmt: skip
    assert re.search(r"validate\s+reports/validation\s+(\w+)\s+\1\s+identical", table)
    assert re.search(r"metrics/speed/evaluate.json .* tolerated \(fit and inference timings",
                     table)  # fmt: skip
    assert re.search(r"reports/leaderboard.md .* tolerated", table)

    ev = json.loads((repo / "metrics/eval.json").read_text())
    ev["accuracy"] = 0.5
    (repo / "metrics/eval.json").write_text(json.dumps(ev))
    bundle = json.loads((repo / "metrics/bundle.json").read_text())
    bundle["bundle"]["content_sha256"] = "0" * 64  # as if the bundle held something else
    (repo / "metrics/bundle.json").write_text(json.dumps(bundle))
    # an ordinary output whose record differs from what the rerun makes (not a metric, no
    # content hash to settle it): the linear family's model folder
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    linear = next(o["md5"] for o in lock["stages"]["train@linear"]["outs"]
                  if o["path"] == "models/families/linear")  # fmt: skip
    (repo / "dvc.lock").write_text((repo / "dvc.lock").read_text().replace(
        linear, "0" * 32 + ".dir"))  # fmt: skip
    run(["git", "commit", "-qam", "tampered record"], repo, env)
    bad = run(["trainflow", "verify", "--workdir", str(tmp_path / "v2")], repo, env, check=False)
    assert bad.returncode == 1
    assert "metrics/eval.json: accuracy 0.5 -> " in bad.stdout
    assert f"metrics/bundle.json: bundle.content_sha256 '{'0' * 64}' -> " in bad.stdout
    assert re.search(r"package\s+models/bundle\s+\w+\s+\w+\s+DIFFERENT", bad.stdout)
    assert re.search(r"train@linear\s+models/families/linear\s+0+\S*\s+\S+\s+DIFFERENT",
                     bad.stdout), bad.stdout  # fmt: skip
    # the tampering is named above and fails the run; whether anything else differs is the
    # first rerun's question (every output identical). Not counted here: CI twice saw this
    # second rerun's select score one validation pair of the MLP the other way round (val
    # AUROC 0.877519 -> 0.877483, weights identical; docs/reproducibility.md, open)
    assert re.search(r"not reproduced: \d+ outputs and \d+ metric values differ",
                     bad.stderr), bad.stdout  # fmt: skip
