"""train.init_from: a network starts from the weights of a registered model (a bundle as
`dvc artifacts get` fetches it, or a model folder), taking what fits and recording where they
came from."""

import io
import tarfile

import pytest
import torch
from pydantic import ValidationError

from tests.model.test_images import DATA, SMALL, network, shapes
from trainflow.errors import StageError
from trainflow.families import save_fitted
from trainflow.families.neural import NetworkFitted
from trainflow.model.network import build_network
from trainflow.model.preprocess import fit_preprocessor
from trainflow.model.transfer import initial_state, load_matching, other_meanings
from trainflow.params import InitFromParams, TrainParams


def trained_folder(tmp_path, kind: str = "mlp"):
    pre = fit_preprocessor(shapes(), DATA, SMALL)
    net = network(kind, pre)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.5)  # weights no fresh network has
    fitted = NetworkFitted(family=kind, preprocessor=pre, config={"network": {}}, net=net,
                           files=("model.pt",))  # fmt: skip
    save_fitted(fitted, tmp_path / kind, DATA)
    return tmp_path / kind, net, pre


def test_a_model_folder_gives_every_weight_that_fits(tmp_path):
    folder, source, pre = trained_folder(tmp_path)
    state, record, _ = initial_state(folder, "mlp")
    assert record["weights"] == "model.pt" and len(record["sha256"]) == 64
    fresh = network("mlp", pre)
    report = load_matching(fresh, state)
    assert report["tensors_fresh"] == []
    for name, value in source.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name


def test_other_labels_keep_a_fresh_head_and_the_new_data_keeps_its_scaling(tmp_path):
    folder, source, _pre = trained_folder(tmp_path)
    state, _, _ = initial_state(folder, "mlp")
    config = {"kind": "tabular", "backbone": "mlp", "n_numeric": 1,
              "numeric_embedding": "periodic", "d_embedding": 4, "frequency_scale": 1.0,
              "n_frequencies": 8, "bins": None, "cardinalities": [], "d_category": 3,
              "vocab_sizes": [], "d_text": 8, "n_blocks": 1, "width": 8, "dropout": 0.0,
              "n_outputs": 3, "cnn_widths": [4, 8],
              "pixel_mean": [[0.5]], "pixel_std": [[0.25]]}  # fmt: skip
    torch.manual_seed(1)
    other = build_network(config)
    report = load_matching(other, state)
    assert report["tensors_fresh"] == ["backbone.output.bias", "backbone.output.weight"]
    cnn = {k: v for k, v in source.state_dict().items() if k.startswith("images.")}
    assert all(torch.equal(other.state_dict()[k], v) for k, v in cnn.items())
    assert other.pixels.mean.item() == 0.5  # its own data's scaling, not the source's


def test_a_bundle_archive_is_read_in_place_and_its_model_tag_recorded(tmp_path):
    folder, _, _ = trained_folder(tmp_path)
    bento = tmp_path / "init" / "digits.bento"
    bento.parent.mkdir()
    with tarfile.open(bento, "w") as archive:
        for name in ("family.json", "model.pt", "preprocessor.json"):
            data = (folder / name).read_bytes()
            member = tarfile.TarInfo(f"./models/digits/abc123/members/mlp/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    _, record, source_pre = initial_state(bento, "mlp")
    assert source_pre["image"] == ["photo"]  # the preprocessor beside the weights
    assert record["model_tag"] == "digits:abc123"
    assert record["weights"] == "models/digits/abc123/members/mlp/model.pt"
    with pytest.raises(
        StageError, match=r"holds no resnet network to start from \(it has \['mlp'\]"
    ):
        initial_state(bento, "resnet")
    bento.write_bytes(b"not a tar")
    with pytest.raises(StageError, match="is not a bundle"):
        initial_state(bento, "mlp")
    with pytest.raises(StageError, match=r"missing.bento not found \(fetch it into models/init/"):
        initial_state(tmp_path / "missing.bento", "mlp")


def test_another_architecture_is_refused_by_name(tmp_path):
    folder, _, pre = trained_folder(tmp_path)
    state, _, _ = initial_state(folder, "mlp")
    with pytest.raises(StageError, match="no weight of the source network fits"):
        load_matching(network("linear", pre), {"x": torch.zeros(2)} | {
            k: v for k, v in state.items() if k.startswith("pixels.")})  # fmt: skip


def test_init_from_lives_under_models_init():
    assert TrainParams(init_from={"path": "models/init/a.bento"}).init_from == InitFromParams(
        path="models/init/a.bento"
    )
    with pytest.raises(ValidationError, match="must be inside models/init/"):
        TrainParams(init_from={"path": "elsewhere/a.bento"})


def test_weights_of_the_right_shape_but_another_meaning_start_fresh(tmp_path):
    """Same shapes, other labels (or other categories, words, numeric columns): the output
    layer (or those embeddings) must not be taken."""
    folder, _, pre = trained_folder(tmp_path)
    state, _, source_pre = initial_state(folder, "mlp")
    same = pre.to_dict()
    assert other_meanings(source_pre, same) == ()
    relabelled = same | {"labels": ["down", "across"]}
    assert other_meanings(source_pre, relabelled) == ("backbone.output",)
    renamed = same | {"numeric": ["height_cm"]}
    assert other_meanings(source_pre, renamed) == ("numeric.",)
    words = same | {"text": ["review"], "tokenizers": {"review": {"model": {"vocab": {}}}}}
    assert other_meanings(source_pre, words) == ("texts.0.", "words.0.")
    fresh = network("mlp", pre)
    report = load_matching(fresh, state, ("backbone.output",))
    assert report["tensors_fresh"] == ["backbone.output.bias", "backbone.output.weight"]
