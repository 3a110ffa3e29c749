"""An S3 remote (moto's server on loopback): push everything, pull it into a fresh clone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from tests.servers import S3_ENV, s3_server

pytestmark = pytest.mark.slow


def tracked_files(repo: Path) -> dict[str, bytes]:
    """Every file of every output dvc.lock records, by path."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    files: dict[str, bytes] = {}
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            path = repo / out["path"]
            found = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            for f in sorted(found):
                files[str(f.relative_to(repo))] = f.read_bytes()
    return files


def test_push_to_s3_and_pull_into_a_fresh_clone(pipeline_repo, tmp_path, adult_wheel):
    import boto3

    source, env, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    with s3_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, **{
            "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
            "region_name": S3_ENV["AWS_DEFAULT_REGION"],
        }).create_bucket(Bucket="trainflow")  # fmt: skip
        made = run(["make", "remote-s3", "URL=s3://trainflow/store", f"ENDPOINT={endpoint}"],
                   repo, {**env, **S3_ENV})  # fmt: skip
        assert ".dvc/config.local" in made.stdout
        assert S3_ENV["AWS_SECRET_ACCESS_KEY"] not in (repo / ".dvc/config").read_text()
        assert S3_ENV["AWS_SECRET_ACCESS_KEY"] in (repo / ".dvc/config.local").read_text()
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "s3 remote"], repo, env)
        pushed = run(["dvc", "push"], repo, env)  # credentials from config.local only
        assert "pushed" in pushed.stdout

        clone = tmp_path / "clone"
        run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
        assert not (clone / "models/champion").exists()
        run(["dvc", "pull"], clone, {**env, **S3_ENV})  # credentials from the environment
    # the source data is fetched (make data), not DVC-tracked: put it where ingest reads it
    (clone / "data/external").mkdir(parents=True, exist_ok=True)
    shutil.copy2(adult_wheel, clone / "data/external" / adult_wheel.name)
    status = run(["dvc", "status"], clone, env)
    assert "Data and pipelines are up to date." in status.stdout, status.stdout
    expected, pulled = tracked_files(repo), tracked_files(clone)
    assert len(expected) > 40 and pulled.keys() == expected.keys()
    for path, content in expected.items():
        assert pulled[path] == content, path
