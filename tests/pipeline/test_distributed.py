"""Distributed training: two processes (DDP) and a two-node launch, against one process."""

import json
import shutil
import subprocess

import pytest

from tests.conftest import run
from tests.pipeline import stages_run

pytestmark = pytest.mark.slow


DDP_TOLERANCE = {"accuracy": 0.02, "auroc": 0.02}  # README: Distributed training
# only mlp is a candidate: retraining the other families under the changed `train` params
# would cost minutes and prove nothing here
MLP_ONLY = ["dvc", "repro", "--single-item", "train@mlp", "select", "evaluate"]


def test_two_process_ddp_run_matches_one_process(pipeline_repo, tmp_path):
    """`train.devices: 2, strategy: ddp` on CPU (gloo): the stage completes, only the primary
    process writes, and the test metrics are within DDP_TOLERANCE of the one-process run (the
    same global batches; each process's batch-norm statistics and dropout masks differ); and
    again with `train.data: stream` (each process on its own pieces, other batches)."""

    source, env, _ = pipeline_repo
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    params = repo / "params.yaml"
    text = params.read_text().replace("candidates: [linear, mlp, resnet, gbdt]",
                                      "candidates: [mlp]")  # fmt: skip
    params.write_text(text.replace("ensemble: true", "ensemble: false"))
    run(["dvc", "repro", "evaluate"], repo, env)
    single = json.loads((repo / "metrics/eval.json").read_text())
    text = params.read_text().replace("  devices: 1 ", "  devices: 2 ")
    params.write_text(text.replace("  strategy: auto ", "  strategy: ddp  "))
    out = run(MLP_ONLY, repo, env)  # the other families' train stages are stale, not run
    assert stages_run(out.stdout) == ["train@mlp", "select", "evaluate"]  # params changed
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in out.stdout + out.stderr
    summary = json.loads((repo / "models/families/mlp/family.json").read_text())["summary"]
    assert summary["processes"] == 2 and summary["epochs_run"] == 4
    steps = (repo / "metrics/train/mlp/plots/metrics/val/loss.tsv").read_text().splitlines()
    assert len(steps) == 1 + 4  # one writer: a header and one row per epoch
    assert not (repo / "models/resume/mlp").exists()
    ddp = json.loads((repo / "metrics/eval.json").read_text())
    for name, tolerance in DDP_TOLERANCE.items():
        assert abs(ddp[name] - single[name]) <= tolerance, (name, ddp[name], single[name])
    # the same DDP run streaming its splits: each process reads its own row-group pieces
    params.write_text(params.read_text().replace("  data: memory ", "  data: stream "))
    out = run(MLP_ONLY, repo, env)
    assert stages_run(out.stdout) == ["train@mlp", "select", "evaluate"]
    summary = json.loads((repo / "models/families/mlp/family.json").read_text())["summary"]
    assert summary["data"] == "stream" and summary["processes"] == 2
    streamed = json.loads((repo / "metrics/eval.json").read_text())
    for name, tolerance in DDP_TOLERANCE.items():
        assert abs(streamed[name] - single[name]) <= tolerance, (name, streamed[name])


def test_two_node_launch_writes_outputs_on_node_zero_only(pipeline_repo, tmp_path):
    """The README's multi-node launch, both 'nodes' on loopback, each with its own clone:
    MASTER_ADDR / MASTER_PORT / WORLD_SIZE / NODE_RANK set, `dvc repro train` on node 0 and the
    stage's command on node 1. One 2-process run; node 1 writes nothing."""
    import socket

    source, env, _ = pipeline_repo
    nodes = [tmp_path / "node0", tmp_path / "node1"]
    for node in nodes:
        shutil.copytree(source, node, symlinks=True)
        params = node / "params.yaml"
        text = params.read_text().replace("  num_nodes: 1 ", "  num_nodes: 2 ")
        params.write_text(text.replace("  strategy: auto ", "  strategy: ddp  "))
    before = (nodes[1] / "models/families/mlp/model.pt").read_bytes()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cluster = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    worker = subprocess.Popen(
        ["python", "-m", "trainflow.stages.train", "mlp"], cwd=nodes[1],
        env={**env, **cluster, "NODE_RANK": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    main = run(["dvc", "repro", "--single-item", "train@mlp"], nodes[0],
               {**env, **cluster, "NODE_RANK": "0"})  # fmt: skip
    worker_out, _ = worker.communicate(timeout=300)
    assert worker.returncode == 0, worker_out
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in worker_out
    assert "trained mlp" not in worker_out  # the worker logs no result and writes no output
    assert stages_run(main.stdout) == ["train@mlp"]
    summary = json.loads((nodes[0] / "models/families/mlp/family.json").read_text())["summary"]
    assert summary["processes"] == 2
    assert (nodes[1] / "models/families/mlp/model.pt").read_bytes() == before
    assert not (nodes[1] / "models/resume/mlp").exists()
