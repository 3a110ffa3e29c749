"""Image columns: the preprocessor's pixels and train statistics, networks that take an image
block (a CNN, the pixel logistic baseline), their exports, attributions and augmentation."""

import numpy as np
import pandas as pd
import pytest
import torch

from tests.data.test_images import bar, cells
from trainflow.errors import StageError
from trainflow.model.export import export_and_check
from trainflow.model.network import build_network
from trainflow.model.preprocess import Preprocessor, fit_preprocessor
from trainflow.params import DataParams, ImageParams, PreprocessParams

DATA = DataParams(target="label", labels=["across", "down"], numeric=["width_cm"],
                  categorical=[], image=["photo"])  # fmt: skip
SMALL = PreprocessParams(image=ImageParams(size=8, channels=1))


def shapes(n: int = 80, seed: int = 0) -> pd.DataFrame:
    """Bars across or down a noisy 12x12 image; the label says which."""
    rng = np.random.default_rng(seed)
    horizontal = rng.random(n) < 0.5
    photos = cells(*(bar(bool(h), seed=seed * 1000 + i) for i, h in enumerate(horizontal)))
    return pd.DataFrame({"width_cm": rng.normal(size=n), "photo": photos,
                         "label": np.where(horizontal, "across", "down")})  # fmt: skip


def test_preprocessor_with_images_keeps_uint8_pixels_and_train_statistics(tmp_path):
    frame = shapes()
    pre = fit_preprocessor(frame, DATA, SMALL)
    assert pre.block_names == ("x_num", "x_cat", "x_image")
    assert pre.features == ["width_cm", "photo"] and pre.packages == ("pillow",)
    *_, x_image = pre.transform(frame)
    assert x_image.shape == (80, 1, 1, 8, 8) and x_image.dtype == np.uint8
    assert pre.pixel_mean["photo"][0] == pytest.approx(x_image.mean() / 255, abs=1e-5)
    pre.save(tmp_path / "pre.json")
    again = Preprocessor.load(tmp_path / "pre.json")
    assert np.array_equal(again.transform(frame)[2], x_image)
    with pytest.raises(StageError, match=r"photo: row 1: not base64"):
        pre.transform(frame.head(1).assign(photo="%%%"))


def network(kind: str, pre: Preprocessor) -> torch.nn.Module:
    images = {"pixel_mean": [pre.pixel_mean["photo"]], "pixel_std": [pre.pixel_std["photo"]]}
    if kind == "linear":
        config = {"kind": "linear", "n_numeric": 1, "cardinalities": [], "n_outputs": 1,
                  "vocab_sizes": [], "image_size": 8, **images}  # fmt: skip
    else:
        config = {"kind": "tabular", "backbone": kind, "n_numeric": 1,
                  "numeric_embedding": "periodic", "d_embedding": 4, "frequency_scale": 1.0,
                  "n_frequencies": 8, "bins": None, "cardinalities": [], "d_category": 3,
                  "vocab_sizes": [], "d_text": 8, "n_blocks": 1, "width": 8, "dropout": 0.0,
                  "hidden_multiplier": 1.0, "residual_dropout": 0.0, "n_outputs": 1,
                  "cnn_widths": [4, 8], **images}  # fmt: skip
    torch.manual_seed(0)
    net = build_network(config)
    if kind == "linear":
        torch.nn.init.normal_(net.images[0].weight, std=0.1)
    return net.eval()


@pytest.mark.parametrize("kind", ["linear", "mlp", "resnet"])
def test_networks_take_the_image_block_and_export_with_parity(tmp_path, kind):
    frame = shapes()
    pre = fit_preprocessor(frame, DATA, SMALL)
    net = network(kind, pre)
    blocks = pre.transform(frame)
    out = net(*(torch.from_numpy(b) for b in blocks))
    assert out.shape == (80,) and len(net.slices) == 2  # one block per feature: width, photo
    report = export_and_check(net, blocks, pre.block_names, tmp_path)
    assert report["torch_export_max_abs_diff"] <= 1e-5 and report["onnx_max_abs_diff"] <= 1e-4


def test_attributions_start_from_the_mean_image_and_add_up():
    """Integrated Gradients against the reference row (numbers at their mean, the train
    split's mean image): a row's attributions sum to its output minus the reference's."""
    from trainflow.model.explain import integrated_gradients

    frame = shapes()
    pre = fit_preprocessor(frame, DATA, SMALL)
    net = network("mlp", pre)
    blocks = pre.transform(frame.head(5))
    attr = integrated_gradients(net, blocks)
    reference = (torch.zeros(1, 1), torch.zeros(1, 0, dtype=torch.long),
                 net.pixels.reference(8))  # fmt: skip
    with torch.no_grad():
        out = net(*(torch.from_numpy(b) for b in blocks))
        base = net(*reference)
    assert attr.shape == (5, 2)
    assert np.allclose(attr.sum(axis=1), (out - base).numpy(), atol=2e-2)
    scaled = net.pixels(net.pixels.reference(8))
    assert torch.allclose(scaled, torch.zeros_like(scaled), atol=1e-5)


def test_augmentation_moves_train_images_the_same_way_for_a_seed():
    from trainflow.model.module import image_augmentation

    augment = image_augmentation({"degrees": 15, "translate": 0.1, "scale": 0.1})
    images = torch.from_numpy(np.stack([bar(True, side=16)] * 4)[:, None]).float()
    torch.manual_seed(3)
    first = augment(images)
    torch.manual_seed(3)
    assert torch.equal(augment(images), first)
    assert first.shape == images.shape and not torch.equal(first, images)
    assert not torch.equal(first[0], first[1])  # each image its own move
    assert image_augmentation({"degrees": 0, "translate": 0, "scale": 0}) is None


def test_the_pixel_baseline_and_the_cnn_learn_which_way_the_bar_goes(tmp_path):
    from trainflow.families import linear, mlp
    from trainflow.families.base import FitContext
    from trainflow.params import LinearParams, MLPParams, TrainParams

    train, val, test = shapes(160, 0), shapes(60, 1), shapes(100, 2)
    pre = fit_preprocessor(train, DATA, SMALL)
    truth = (test.label == "down").to_numpy()
    for family, settings in (
        (linear, LinearParams(l2=1e-3)),
        (mlp, MLPParams(lr=0.01, batch_size=32, max_epochs=6, patience=3, width=16,
                        n_blocks=1, cnn_widths=[4, 8], d_embedding=4, n_frequencies=8)),
    ):  # fmt: skip
        ctx = FitContext(seed=0, trainer=TrainParams(accelerator="cpu"),
                         resume_dir=tmp_path / family.NAME / "r",
                         live_dir=tmp_path / family.NAME / "live")  # fmt: skip
        fitted = family.fit(train, val, pre, settings, ctx)
        accuracy = ((fitted.outputs(test) > 0) == truth).mean()
        assert accuracy > 0.9, (family.NAME, accuracy)


def test_gbdt_names_the_image_columns_it_cannot_read(tmp_path):
    from trainflow.families import gbdt
    from trainflow.families.base import FitContext
    from trainflow.params import GBDTParams, TrainParams

    frame = shapes()
    pre = fit_preprocessor(frame, DATA, SMALL)
    ctx = FitContext(seed=0, trainer=TrainParams(), resume_dir=tmp_path, live_dir=tmp_path)
    with pytest.raises(StageError, match=r"families.gbdt: .* image columns \['photo'\]"):
        gbdt.fit(frame, frame, pre, GBDTParams(), ctx)
