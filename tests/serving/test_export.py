"""Exports (torch.export, ONNX) equal the eager network; the preprocessor round-trips records.
(Every family's exports are also checked by tests/families/test_contract.py.)"""

import copy
import json

import numpy as np
import pytest
import torch

from tests.conftest import messy_frame
from trainflow.data.clean import clean_table
from trainflow.data.sources import SOURCE_FILE_COLUMN
from trainflow.errors import StageError
from trainflow.families.base import compare_outputs
from trainflow.model.export import export_and_check
from trainflow.model.network import build_network
from trainflow.model.preprocess import fit_preprocessor
from trainflow.params import PreprocessParams
from trainflow.serving.export import check_round_trip


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_params):
    folder = tmp_path_factory.mktemp("model")
    clean, _ = clean_table(messy_frame(300, seed=4), data_params, [SOURCE_FILE_COLUMN], "t")
    pre = fit_preprocessor(clean, data_params, PreprocessParams(log1p=["capital_gain"]))
    config = {"kind": "tabular", "backbone": "resnet", "n_numeric": len(pre.numeric),
              "numeric_embedding": "periodic", "d_embedding": 4, "frequency_scale": 1.0,
              "n_frequencies": 8, "bins": None, "cardinalities": pre.cardinalities,
              "d_category": 3, "n_blocks": 2, "width": 16, "hidden_multiplier": 2.0,
              "dropout": 0.2, "residual_dropout": 0.1, "n_outputs": 1}  # fmt: skip
    torch.manual_seed(0)
    net = build_network(config)
    with torch.no_grad():  # batch-norm statistics that are not the identity
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    x_num, x_cat = pre.transform(clean)
    report = export_and_check(net.eval(), (x_num, x_cat), pre.block_names, folder)
    pre.save(folder / "preprocessor.json")
    return folder, net, pre, clean, x_num, x_cat, report


def test_exports_equal_eager_on_any_batch_size(trained):
    folder, net, _, _, x_num, x_cat, report = trained
    assert report["rows"] == len(x_num) and report["torch_export_max_abs_diff"] <= 1e-4
    program = torch.export.load(folder / "model.pt2").module()
    for n in (1, 3, len(x_num)):  # exported with 8 rows; the batch dimension is dynamic
        with torch.inference_mode():
            got = program(torch.from_numpy(x_num[:n]), torch.from_numpy(x_cat[:n]))
            assert torch.allclose(got, net(torch.from_numpy(x_num[:n]),
                                           torch.from_numpy(x_cat[:n])), atol=1e-6)  # fmt: skip
    assert not list(folder.glob("*.data"))  # ONNX weights inside the one file


def test_parity_names_the_format_that_is_off():
    reference = np.array([0.5, 2.0, -3.0])
    report = compare_outputs(reference, {"onnx": reference + 5e-5})  # another runtime's kernels
    assert report["onnx_max_abs_diff"] < 6e-5 and report["onnx_tolerance"] == 1e-4
    off = r"export parity: torch_export differs .* up to 0\.0005 \(tolerance 0\.0001\)"
    with pytest.raises(StageError, match=off):
        compare_outputs(reference, {"onnx": reference, "torch_export": reference + 5e-4})
    with pytest.raises(StageError, match=r"onnx differs .* up to 0\.001 \(tolerance 0\.0001\)"):
        compare_outputs(reference, {"onnx": reference + 1e-3})
    with pytest.raises(StageError, match=r"onnx output shape \(2,\) != \(3,\)"):
        compare_outputs(reference, {"onnx": reference[:2]})


@pytest.mark.parametrize("broken", ["onnx", "torch_export"])
def test_a_wrong_export_file_is_caught_by_its_own_check(trained, tmp_path, monkeypatch, broken):
    """Each format's file written from another network (weights nudged): export_and_check
    names that format, the other one passing; so neither check hides behind the other."""
    import trainflow.model.export as export

    _, net, pre, _, x_num, x_cat, _ = trained
    nudged = copy.deepcopy(net)
    with torch.no_grad():
        for p in nudged.parameters():
            p.add_(0.05)
    writer = {"onnx": "export_onnx", "torch_export": "export_program"}[broken]
    real = getattr(export, writer)
    monkeypatch.setattr(export, writer, lambda _net, *a, **k: real(nudged.eval(), *a, **k))
    with pytest.raises(StageError, match=rf"export parity: {broken} differs"):
        export_and_check(net.eval(), (x_num, x_cat), pre.block_names, tmp_path)


def test_preprocessor_round_trip(trained, tmp_path, data_params):
    folder, _, pre, clean, _, _, _ = trained
    assert check_round_trip(pre, data_params, folder / "preprocessor.json", clean)["identical"]
    drifted = json.loads((folder / "preprocessor.json").read_text())
    drifted["mean"]["age"] += 1.0  # a shipped preprocessor that is not the evaluated one
    (tmp_path / "preprocessor.json").write_text(json.dumps(drifted))
    with pytest.raises(StageError, match=r"preprocessor round trip: numeric features differ "
                                         r"\(first row 0\)"):  # fmt: skip
        check_round_trip(pre, data_params, tmp_path / "preprocessor.json", clean)


def test_exports_do_not_record_where_the_code_lives(trained):
    """Exported from another checkout, the same weights must give the same bytes."""
    folder = trained[0]
    for name in ("model.pt2", "model.onnx"):
        data = (folder / name).read_bytes()
        assert b"src/trainflow" not in data and b"stack_trace" not in data, name
