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


def test_push_to_s3_and_pull_into_a_fresh_clone(pipeline_repo, tmp_path):
    """Encrypted at rest (SSE), and complete: the clone's `dvc pull` brings the fetched source
    too, so `dvc status` is clean and `dvc repro` runs nothing, with no package index."""
    import boto3

    source, env, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    with s3_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, **{
            "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
            "region_name": S3_ENV["AWS_DEFAULT_REGION"],
        })  # fmt: skip
        s3.create_bucket(Bucket="trainflow")
        made = run(["make", "remote-s3", "URL=s3://trainflow/store", f"ENDPOINT={endpoint}",
                    "SSE=AES256"], repo, {**env, **S3_ENV})  # fmt: skip
        assert ".dvc/config.local" in made.stdout and "server-side encryption" in made.stdout
        assert S3_ENV["AWS_SECRET_ACCESS_KEY"] not in (repo / ".dvc/config").read_text()
        assert S3_ENV["AWS_SECRET_ACCESS_KEY"] in (repo / ".dvc/config.local").read_text()
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-qm", "s3 remote"], repo, env)
        pushed = run(["dvc", "push"], repo, env)  # credentials from config.local only
        assert "pushed" in pushed.stdout
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="trainflow") for o in page.get("Contents", [])]  # fmt: skip
        assert len(keys) > 40
        for key in keys:
            assert s3.head_object(Bucket="trainflow", Key=key).get("ServerSideEncryption") == (
                "AES256"
            ), key

        clone = tmp_path / "clone"
        run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
        assert not (clone / "models/champion").exists()
        assert not (clone / "data/external").exists() or not any(
            p.suffix == ".whl" for p in (clone / "data/external").iterdir()
        )
        run(["dvc", "pull"], clone, {**env, **S3_ENV})  # credentials from the environment
        no_index = {**env, **S3_ENV, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": "/dev/null"}
        status = run(["dvc", "status"], clone, no_index)
        assert "Data and pipelines are up to date." in status.stdout, status.stdout
        repro = run(["dvc", "repro"], clone, no_index)
        assert "Running stage" not in repro.stdout, repro.stdout
    wheel = next((clone / "data/external").glob("*.whl"))
    assert wheel.read_bytes() == next((repo / "data/external").glob("*.whl")).read_bytes()
    expected, pulled = tracked_files(repo), tracked_files(clone)
    assert len(expected) > 40 and pulled.keys() == expected.keys()
    for path, content in expected.items():
        assert pulled[path] == content, path
