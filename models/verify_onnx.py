"""Checks an exported model with onnx and onnxruntime (no torch needed).

Used by ``models/train.py``: in its own process when that interpreter has
onnx and onnxruntime, otherwise as a subprocess under the project's venv:

    .venv/bin/python models/verify_onnx.py MODEL.onnx DATASET TORCH_LOGITS.npy

prints one JSON object: the test top-1 under onnxruntime, the largest
absolute difference from torch's logits (saved as .npy, test split order),
the sorted ONNX op types, the names of the Conv/Gemm/MatMul nodes, and the
op types outside the allowed set (``disallowed_ops``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from quant_opt import datasets  # noqa: E402

# The ops the exported models may contain. Shape/Gather/Unsqueeze/Slice are
# allowed only where constant folding removes them, so they are not here.
ALLOWED_OPS = frozenset(
    """Conv Gemm MatMul Add Sub Mul Div Relu Clip Sigmoid Tanh MaxPool
    AveragePool GlobalAveragePool Flatten Reshape Transpose Concat
    BatchNormalization Softmax LayerNormalization Erf Gelu Constant""".split()
)


def verify(onnx_path: str | Path, dataset: str, torch_logits: np.ndarray) -> dict:
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model, full_check=True)
    if any(
        init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer
    ):
        raise RuntimeError(f"{onnx_path}: weights stored as external data")
    ops = sorted({node.op_type for node in model.graph.node})
    compute_nodes = [
        node.name for node in model.graph.node if node.op_type in ("Conv", "Gemm", "MatMul")
    ]

    x, y = datasets.load(dataset, "test")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(
        str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    logits = np.concatenate(
        [sess.run(["logits"], {"input": x[i : i + 1000]})[0] for i in range(0, len(x), 1000)]
    )
    # Batch 1 through the dynamic batch axis as well.
    single = sess.run(["logits"], {"input": x[:1]})[0]
    return {
        "onnxruntime_top1": float((logits.argmax(1) == y).mean()),
        "max_abs_logit_diff": float(np.abs(logits - torch_logits).max()),
        "argmax_agreement": float((logits.argmax(1) == torch_logits.argmax(1)).mean()),
        "batch1_max_abs_diff": float(np.abs(single - logits[:1]).max()),
        "ops": ops,
        "disallowed_ops": sorted(set(ops) - ALLOWED_OPS),
        "compute_nodes": compute_nodes,
        "num_nodes": len(model.graph.node),
        "opset": [(o.domain or "ai.onnx", o.version) for o in model.opset_import],
    }


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} MODEL.onnx DATASET TORCH_LOGITS.npy")
    print(json.dumps(verify(sys.argv[1], sys.argv[2], np.load(sys.argv[3]))))
