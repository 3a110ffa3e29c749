"""Exports (torch.export, ONNX) equal the eager network; the preprocessor round-trips records."""

import json

import pytest
import torch

from tests.conftest import messy_frame
from trainflow.data.clean import clean_table
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.errors import StageError
from trainflow.model.network import build_network
from trainflow.model.preprocess import fit_preprocessor
from trainflow.params import PreprocessParams
from trainflow.serving.export import (
    check_parity,
    check_round_trip,
    export_onnx,
    export_program,
)
from trainflow.serving.predictor import Predictor


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_params):
    folder = tmp_path_factory.mktemp("model")
    clean, _ = clean_table(messy_frame(300, seed=4), data_params, [SOURCE_FILE_COLUMN], "t")
    pre = fit_preprocessor(clean, data_params, PreprocessParams(log1p=["capital_gain"]))
    config = {"kind": "mlp", "n_numeric": len(pre.numeric), "cardinalities": pre.cardinalities,
              "embedding_dims": [3] * len(pre.cardinalities), "hidden": [16, 8],
              "dropout": 0.2, "n_outputs": 1}  # fmt: skip
    torch.manual_seed(0)
    net = build_network(config)
    with torch.no_grad():  # batch-norm statistics that are not the identity
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    torch.save(net.state_dict(), folder / "model.pt")
    (folder / "model_config.json").write_text(json.dumps(config))
    pre.save(folder / "preprocessor.json")
    (folder / "data_schema.json").write_text(data_params.model_dump_json())
    predictor = Predictor.load(folder)
    x_num, x_cat = predictor.preprocessor.transform(clean)
    example = (torch.from_numpy(x_num[:8]), torch.from_numpy(x_cat[:8]))
    export_program(predictor.net, example, folder / "model.pt2")
    export_onnx(predictor.net, example, folder / "model.onnx")
    return folder, predictor, clean, x_num, x_cat


def test_exports_equal_eager_on_any_batch_size(trained):
    folder, predictor, _, x_num, x_cat = trained
    for n in (1, 3, len(x_num)):  # exported with 8 rows; the batch dimension is dynamic
        report = check_parity(predictor.net, x_num[:n], x_cat[:n], folder / "model.pt2",
                              folder / "model.onnx")  # fmt: skip
        assert report["rows"] == n and report["torch_export_max_abs_diff"] <= 1e-5
        assert report["onnx_max_abs_diff"] <= 1e-5
    assert not list(folder.glob("*.data"))  # ONNX weights inside the one file


def test_parity_fails_when_the_exports_are_not_the_model(trained):
    folder, _, _, x_num, x_cat = trained
    other = build_network(json.loads((folder / "model_config.json").read_text())).eval()
    with pytest.raises(StageError, match=r"export parity: torch_export differs from eager"):
        check_parity(other, x_num, x_cat, folder / "model.pt2", folder / "model.onnx")


def test_preprocessor_round_trip(trained, tmp_path):
    folder, predictor, clean, _, _ = trained
    assert check_round_trip(predictor, folder / "preprocessor.json", clean)["identical"]
    drifted = json.loads((folder / "preprocessor.json").read_text())
    drifted["mean"]["age"] += 1.0  # a shipped preprocessor that is not the evaluated one
    (tmp_path / "preprocessor.json").write_text(json.dumps(drifted))
    with pytest.raises(StageError, match="preprocessor round trip: numeric tensors differ"):
        check_round_trip(predictor, tmp_path / "preprocessor.json", clean)


def test_exports_do_not_record_where_the_code_lives(trained):
    """Exported from another checkout, the same weights must give the same bytes."""
    folder = trained[0]
    for name in ("model.pt2", "model.onnx"):
        data = (folder / name).read_bytes()
        assert b"src/trainflow" not in data and b"stack_trace" not in data, name
