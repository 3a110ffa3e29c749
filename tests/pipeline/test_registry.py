"""The release flow of the README with GTO, against an S3 remote (moto on loopback): register
two versions, assign staging / prod, roll prod back, then fetch by version, by stage and by tag
from a fresh directory, with only a bare git server and the S3 bucket to fetch from."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from tests.conftest import run
from tests.servers import S3_ENV, s3_server

pytestmark = pytest.mark.slow
ARTIFACT = "income-classifier"
BUNDLE = "models/bundle/bundle.bento"


def in_stage(repo, env, stage: str) -> str:
    """The version ref GTO has in `stage`, e.g. income-classifier@v1.0.0."""
    return run(["gto", "show", f"{ARTIFACT}#{stage}", "--ref"], repo, env).stdout.strip()


def test_register_assign_rollback_and_fetch_from_s3(pipeline_repo, tmp_path):
    import boto3

    source, env, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    env = {**env, **S3_ENV}
    with s3_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name=S3_ENV["AWS_DEFAULT_REGION"],
                     aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
                     ).create_bucket(Bucket="trainflow")  # fmt: skip
        run(["make", "remote-s3", "URL=s3://trainflow/store", f"ENDPOINT={endpoint}"], repo, env)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "run 1, S3 remote"], repo, env)
        v1 = (repo / BUNDLE).read_bytes()
        run(["gto", "register", ARTIFACT, "--version", "v1.0.0"], repo, env)
        run(["gto", "assign", ARTIFACT, "--version", "v1.0.0", "--stage", "prod"], repo, env)
        run(["dvc", "push"], repo, env)

        params = repo / "params.yaml"
        text = params.read_text()
        rate = yaml.safe_load(text)["families"]["gbdt"]["learning_rate"]
        params.write_text(re.sub(r"^    learning_rate: \S+", f"    learning_rate: {rate * 2}",
                                 text, count=1, flags=re.M))  # fmt: skip
        run(["dvc", "repro"], repo, env)
        run(["git", "commit", "-qam", "run 2: learning rate doubled"], repo, env)
        v2 = (repo / BUNDLE).read_bytes()
        assert v2 != v1
        run(["gto", "register", ARTIFACT, "--version", "v1.1.0"], repo, env)
        for stage in ("staging", "prod"):
            run(["gto", "assign", ARTIFACT, "--version", "v1.1.0", "--stage", stage], repo, env)
        run(["dvc", "push"], repo, env)
        assert in_stage(repo, env, "prod") == f"{ARTIFACT}@v1.1.0"
        # roll prod back: a new assignment of the previous version (GTO needs --force, as
        # v1.0.0 was in prod before; DVC's --stage follows the latest assignment)
        run(["gto", "assign", ARTIFACT, "--version", "v1.0.0", "--stage", "prod", "--force"],
            repo, env)  # fmt: skip
        assert in_stage(repo, env, "prod") == f"{ARTIFACT}@v1.0.0"
        assert in_stage(repo, env, "staging") == f"{ARTIFACT}@v1.1.0"

        server = tmp_path / "server.git"  # git only: no DVC cache to borrow from
        run(["git", "clone", "-q", "--bare", str(repo), str(server)], tmp_path, env)
        away = tmp_path / "away"
        away.mkdir()
        get = ["dvc", "artifacts", "get", str(server), ARTIFACT]
        fetches = {
            "v1.0.0.bento": ([*get, "--rev", "v1.0.0"], v1),
            "prod.bento": ([*get, "--stage", "prod"], v1),
            "staging.bento": ([*get, "--stage", "staging"], v2),
            "tag.bento": (["dvc", "get", "--rev", f"{ARTIFACT}@v1.1.0", str(server), BUNDLE], v2),
        }
        for name, (cmd, expected) in fetches.items():
            run([*cmd, "-o", name], away, env)
            assert (away / name).read_bytes() == expected, name
