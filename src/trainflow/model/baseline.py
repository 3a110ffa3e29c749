"""The baseline: an L2-regularised linear model (logistic, softmax or ridge regression, by task)
fitted full-batch with torch's L-BFGS."""

from __future__ import annotations

from collections.abc import Callable

import torch

from trainflow.model.network import LinearBaseline
from trainflow.model.objective import loss_for


def fit_linear(
    blocks: tuple[torch.Tensor, ...],
    y: torch.Tensor,
    cardinalities: list[int],
    idf: list[list[float]],
    task: str,
    n_outputs: int,
    l2: float,
    max_iter: int,
    seed: int,
    on_loss: Callable[[float], None] | None = None,
    images: dict | None = None,
) -> tuple[LinearBaseline, dict]:
    """Fit on the training split's input blocks (idf: each text column's, from the
    preprocessor); deterministic for a fixed seed. `on_loss` sees the training
    loss at every L-BFGS evaluation. Returns (model, fit info)."""
    torch.manual_seed(seed)
    vocab_sizes = [len(values) for values in idf]
    model = LinearBaseline(blocks[0].shape[1], cardinalities, n_outputs, vocab_sizes,
                           **(images or {}))  # fmt: skip
    for j, values in enumerate(idf):
        getattr(model, f"idf{j}").copy_(torch.tensor(values, dtype=torch.float32))
    loss_fn = loss_for(task)
    optimizer = torch.optim.LBFGS(
        model.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(model(*blocks), y) + l2 * model.l2_penalty()
        loss.backward()
        if on_loss is not None:
            on_loss(float(loss.detach()))
        return loss

    model.train()
    optimizer.step(closure)
    model.eval()
    with torch.no_grad():
        final = float(loss_fn(model(*blocks), y))
    state = optimizer.state[optimizer.param_groups[0]["params"][0]]  # L-BFGS keeps it there
    return model, {"train_loss": final, "lbfgs_iterations": int(state.get("n_iter", 0))}
