"""Export a torch network without Python-class pickles, and prove the exports equal it.

Two formats: torch.export's ExportedProgram (`model.pt2`: a serialized graph + weights, loaded
with `torch.export.load`, no trainflow code needed) and ONNX (`model.onnx`, weights inside, run
by onnxruntime). Both take a batch of any size, and neither records where the code lives (the
exporters' stack traces are dropped), so the same weights give the same bytes anywhere.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from trainflow.families.base import compare_outputs

PROGRAM_FILE, ONNX_FILE = "model.pt2", "model.onnx"


def _batch_dims(n_blocks: int) -> tuple:
    """A dynamic batch for every input: x_num, x_cat, then the networks' `*rest` (text and /
    or image blocks), which torch.export sees as one tuple argument."""
    batch = torch.export.Dim("batch", min=1)
    rest = tuple({0: batch} for _ in range(n_blocks - 2))
    return ({0: batch}, {0: batch}, rest) if rest else ({0: batch}, {0: batch})


def export_program(net: torch.nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> None:
    """torch.export with a dynamic batch dimension, saved to `path`."""
    program = torch.export.export(net.eval(), example, dynamic_shapes=_batch_dims(len(example)))
    for node in program.graph.nodes:  # source paths of this checkout: not part of the model
        node.meta.pop("stack_trace", None)
    torch.export.save(program, path)


def export_onnx(
    net: torch.nn.Module, example: tuple[torch.Tensor, ...], names: tuple[str, ...], path: Path
) -> None:
    """ONNX through torch's dynamo exporter, weights in the one file, dynamic batch; the
    inputs named after the preprocessor's blocks."""
    for name in ("torch.onnx", "onnxscript", "onnx_ir"):  # per-node optimiser chatter
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*axis name.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        torch.onnx.export(
            net.eval(), example, str(path), dynamo=True, external_data=False,
            input_names=list(names), output_names=["output"],
            dynamic_shapes=_batch_dims(len(example)), verbose=False,
        )  # fmt: skip
    drop_stack_traces(path)


def drop_stack_traces(path: Path) -> None:
    """The exporter records each node's Python stack (absolute source paths) as metadata: the
    same model exported from two checkouts would differ. Keep the graph, drop those."""
    import onnx

    model = onnx.load(str(path))
    graphs = [model.graph, *(f for f in model.functions)]
    for graph in graphs:
        for node in graph.node:
            kept = [p for p in node.metadata_props if not p.key.endswith("stack_trace")]
            del node.metadata_props[:]
            node.metadata_props.extend(kept)
    onnx.save_model(model, str(path))


def export_and_check(
    net: torch.nn.Module, blocks: tuple[np.ndarray, ...], names: tuple[str, ...], folder: Path
) -> dict:
    """Export to `folder` (model.pt2, model.onnx) and compare eager vs the saved
    ExportedProgram vs the ONNX file under onnxruntime on the same rows (`blocks`, the
    preprocessor's output, its inputs called `names`)."""
    import onnxruntime

    rows = np.arange(8) % len(blocks[0])  # 8 rows (repeated if fewer): a batch size not 0 or 1
    example = tuple(torch.from_numpy(b[rows]) for b in blocks)
    program_path, onnx_path = folder / PROGRAM_FILE, folder / ONNX_FILE
    export_program(net, example, program_path)
    export_onnx(net, example, names, onnx_path)
    tensors = tuple(torch.from_numpy(b) for b in blocks)
    with torch.inference_mode():
        eager = net.eval()(*tensors).numpy()
        exported = torch.export.load(program_path).module()(*tensors).numpy()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, dict(zip(names, blocks, strict=True)))[0]
    return compare_outputs(eager, {"torch_export": exported, "onnx": onnx_out})
