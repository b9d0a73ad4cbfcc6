"""ONNX Runtime's int8 operators on bench/quant_opt_bench.cpp's shapes, one
thread: MatMulInteger (u8 x s8 -> i32, constant weights) for the matmuls
and QLinearConv (u8 x s8 -> u8) for the 3x3 convolution, each a one-node
model run by an InferenceSession with intra_op_num_threads=1. Prints a
Markdown table of GOPS (2 ops per multiply-add), to set beside
scripts/bench.sh's quant-opt and oneDNN columns.

Usage: python bench/ort_ops.py [--repeat N]
"""

import argparse
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from models import ort_median


def matmul_integer(m, k, n, rng):
    w = numpy_helper.from_array(rng.integers(-128, 128, (k, n), dtype=np.int8), "w")
    node = helper.make_node("MatMulInteger", ["a", "w"], ["y"])
    graph = helper.make_graph(
        [node], "mm", [helper.make_tensor_value_info("a", TensorProto.UINT8, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    feed = rng.integers(0, 256, (m, k), dtype=np.uint8)
    return model, feed, 2.0 * m * k * n


def qlinear_conv(rng):
    init = [
        numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
        numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        numpy_helper.from_array(rng.integers(-127, 128, (64, 64, 3, 3), dtype=np.int8), "w"),
        numpy_helper.from_array(np.full(64, 0.01, np.float32), "ws"),
        numpy_helper.from_array(np.zeros(64, np.int8), "wz"),
        numpy_helper.from_array(np.array(0.5, np.float32), "ys"),
        numpy_helper.from_array(np.array(128, np.uint8), "yz"),
    ]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"],
                            ["y"], kernel_shape=[3, 3])
    graph = helper.make_graph(
        [node], "conv", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 64, 58, 58])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 64, 56, 56])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    feed = rng.integers(0, 256, (1, 64, 58, 58), dtype=np.uint8)
    return model, feed, 2.0 * 56 * 56 * 64 * 64 * 9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    print(f"ONNX Runtime {onnxruntime.__version__}, one thread\n")
    print("| op | shape (MxKxN) | ORT operator | ORT GOPS |")
    print("|---|---|---|---|")
    cases = [("matmul", "1024x1024x1024", "MatMulInteger", matmul_integer(1024, 1024, 1024, rng)),
             ("matmul", "128x4096x4096", "MatMulInteger", matmul_integer(128, 4096, 4096, rng)),
             ("matmul", "1x4096x4096", "MatMulInteger", matmul_integer(1, 4096, 4096, rng)),
             ("conv", "3x3 56x56x64->64", "QLinearConv", qlinear_conv(rng))]
    for op, shape, operator, (model, feed, ops) in cases:
        onnx.checker.check_model(model)
        seconds = ort_median(model.SerializeToString(), feed, args.repeat)
        print(f"| {op} | {shape} | {operator} | {ops / seconds * 1e-9:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
