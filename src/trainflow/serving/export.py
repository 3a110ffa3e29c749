"""Export the trained network without Python-class pickles, and prove the exports equal it.

Two formats: torch.export's ExportedProgram (`model.pt2`: a serialized graph + weights, loaded
with `torch.export.load`, no trainflow code needed) and ONNX (`model.onnx`, weights inside, run
by onnxruntime). Both take a batch of any size, and neither records where the code lives (the
exporters' stack traces are dropped), so the same weights give the same bytes anywhere.
`check_parity` runs eager, exported and ONNX on the same tensors (the test split) and fails
unless every output agrees within the tolerance;
`check_round_trip` proves that the saved preprocessor turns raw records, as the server receives
them, into exactly the tensors the model was evaluated on.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trainflow.errors import StageError
from trainflow.model.preprocess import Preprocessor
from trainflow.serving.predictor import Predictor, json_records, records_frame

PARITY_TOLERANCE = 1e-5  # fp32: |exported - eager| <= tol * max(1, |eager|), every output
PROGRAM_FILE, ONNX_FILE = "model.pt2", "model.onnx"


def _batch_dims() -> tuple[dict, dict]:
    batch = torch.export.Dim("batch", min=1)
    return {0: batch}, {0: batch}


def export_program(
    net: torch.nn.Module, example: tuple[torch.Tensor, torch.Tensor], path: Path
) -> None:
    """torch.export with a dynamic batch dimension, saved to `path`."""
    program = torch.export.export(net.eval(), example, dynamic_shapes=_batch_dims())
    for node in program.graph.nodes:  # source paths of this checkout: not part of the model
        node.meta.pop("stack_trace", None)
    torch.export.save(program, path)


def export_onnx(
    net: torch.nn.Module, example: tuple[torch.Tensor, torch.Tensor], path: Path
) -> None:
    """ONNX through torch's dynamo exporter, weights in the one file, dynamic batch."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision not installed" ...
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*axis name.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        torch.onnx.export(
            net.eval(), example, str(path), dynamo=True, external_data=False,
            input_names=["x_num", "x_cat"], output_names=["output"],
            dynamic_shapes=_batch_dims(), verbose=False,
        )  # fmt: skip
    _drop_stack_traces(path)


def _drop_stack_traces(path: Path) -> None:
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


def _max_excess(reference: np.ndarray, other: np.ndarray) -> tuple[float, bool]:
    diff = np.abs(other.astype(np.float64) - reference.astype(np.float64))
    allowed = PARITY_TOLERANCE * np.maximum(1.0, np.abs(reference.astype(np.float64)))
    return float(diff.max(initial=0.0)), bool((diff <= allowed).all())


def check_parity(
    net: torch.nn.Module, x_num: np.ndarray, x_cat: np.ndarray, program_path: Path,
    onnx_path: Path,
) -> dict:  # fmt: skip
    """Eager vs the saved ExportedProgram vs the ONNX file under onnxruntime, on the same rows;
    StageError naming the format and the worst difference when one is off."""
    import onnxruntime

    tensors = (torch.from_numpy(x_num), torch.from_numpy(x_cat))
    with torch.inference_mode():
        eager = net.eval()(*tensors).numpy()
        exported = torch.export.load(program_path).module()(*tensors).numpy()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {"x_num": x_num, "x_cat": x_cat})[0]
    report: dict = {"rows": len(x_num), "tolerance": PARITY_TOLERANCE}
    for name, out in (("torch_export", exported), ("onnx", onnx_out)):
        if out.shape != eager.shape:
            raise StageError(f"export parity: {name} output shape {out.shape} != {eager.shape}")
        worst, ok = _max_excess(eager, out)
        report[f"{name}_max_abs_diff"] = worst
        if not ok:
            raise StageError(f"export parity: {name} differs from eager by up to {worst:.3g} "
                             f"(tolerance {PARITY_TOLERANCE:g}) on {len(x_num)} rows")  # fmt: skip
    return report


def check_round_trip(predictor: Predictor, preprocessor_path: Path, clean: pd.DataFrame) -> dict:
    """The saved preprocessor JSON, fed the rows as raw records (JSON values, the way a request
    carries them, through the server's cleaning), gives bit-identical tensors to the ones the
    model was evaluated on."""
    expected = predictor.preprocessor.transform(clean)
    loaded = Preprocessor.load(preprocessor_path)
    records = json_records(clean, predictor.data)
    rebuilt = records_frame(records, predictor.data)
    got = loaded.transform(rebuilt)
    for name, a, b in (("numeric", expected[0], got[0]), ("categorical", expected[1], got[1])):
        if a.shape != b.shape or not np.array_equal(a, b):
            bad = int(np.argwhere(a != b)[0][0]) if a.shape == b.shape else -1
            raise StageError(f"preprocessor round trip: {name} tensors differ (first row {bad}) "
                             f"after raw records -> cleaning -> {preprocessor_path}")  # fmt: skip
    return {"rows": len(records), "identical": True}
