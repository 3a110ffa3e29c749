"""Per-feature attributions of a network's raw output with Captum's Integrated Gradients.

Integrated Gradients (Sundararajan et al., 2017) is taken over the embedded input row (each
feature's embedding block, `net.features`), from a reference row in which every number is at
its training mean, every category missing, every text empty and every image the train split's
mean image, then summed over each
feature's block. The attributions of a row add up to its output minus the reference row's
output (completeness), up to the integral's approximation error.
"""

from __future__ import annotations

import numpy as np
import torch

from trainflow.model.preprocess import MISSING_INDEX, Blocks
from trainflow.model.text import PAD_ID

STEPS = 32


def integrated_gradients(net: torch.nn.Module, blocks: Blocks) -> np.ndarray:
    """[n, features] (or [n, features, classes] for several outputs) in the preprocessor's
    feature order (numerics, categoricals, texts, images)."""
    from captum.attr import IntegratedGradients

    net = net.eval()
    x_num, x_cat, *rest = blocks
    # text ids [n, k, L]: all padding; pixels [n, k, C, H, W]: the mean image
    references = [torch.full((1, *block.shape[1:]), PAD_ID) if block.ndim == 3
                  else net.pixels.reference(block.shape[-1]) for block in rest]  # fmt: skip
    with torch.no_grad():
        inputs = net.features(*(torch.from_numpy(b) for b in blocks))
        reference = net.features(torch.zeros(1, x_num.shape[1]),
                                 torch.full((1, x_cat.shape[1]), MISSING_INDEX),
                                 *references)  # fmt: skip
    reference = reference.expand_as(inputs).contiguous()
    with torch.no_grad():
        n_outputs = net.head(inputs[:1]).reshape(1, -1).shape[1]
    ig = IntegratedGradients(net.head)
    per_output = []
    for k in range(n_outputs):
        target = k if n_outputs > 1 else None
        attr = ig.attribute(inputs, baselines=reference, target=target, n_steps=STEPS,
                            internal_batch_size=4096)  # fmt: skip
        attr = attr.detach().numpy()
        per_output.append(np.stack([attr[:, a:b].sum(axis=1) for a, b in net.slices], axis=1))
    return per_output[0] if n_outputs == 1 else np.stack(per_output, axis=2)
