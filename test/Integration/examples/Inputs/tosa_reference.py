"""The NumPy integer reference (python/quant_opt/reference.py, written
from docs/Semantics.md) for examples/tosa-cnn.mlir quantized by quant-opt,
for tosa-end-to-end.test.

    tosa_reference.py DIR TOSA_MLIR

DIR holds exposed-q.mlir (the float program after qnn-expose-activations
and qnn-quantize-pipeline), params.json (the types that pipeline chose,
`parameters=`) and quantized.mlir (the same model quantized without
exposure). On eight seeded images, quant-run runs the exposed program; every
exposed activation is the dequantized value of the integers the lowered
code computed, which are recovered exactly (quant_opt.bitexact). Each layer
is then recomputed by the reference from the program's own stored input and
the float weights and biases read from TOSA_MLIR, quantized by NumPy with
the chosen types: the two paddings (the input's zero point), conv 3x3 +
bias + ReLU6, strided conv + bias + ReLU, average pooling, the reshape and
the fully connected layer. Every stored element must match.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from quant_opt import reference as ref
from quant_opt.bitexact import recover_stored
from quant_opt.fusion_check import Layer, contraction_reference

directory, source = Path(sys.argv[1]), Path(sys.argv[2])
images = np.random.default_rng(0).normal(0, 1, (8, 8, 8, 2)).astype(np.float32)
np.save(directory / "images.npy", images)


def run(module: str, count: int) -> list[np.ndarray]:
    """The `count` results of @net of DIR/module on the images."""
    outputs = [directory / f"{module}.out{i}.npy" for i in range(count)]
    subprocess.run(["quant-run", str(directory / module), "-f", "net", "-i", str(directory / "images.npy"),
                    "--dataset", *[a for o in outputs for a in ("-o", str(o))]], check=True,
                   capture_output=True)
    return [np.load(o) for o in outputs]


# The float parameters, from the TOSA source.
constants = {}
for name, values, shape in re.findall(
        r'(%[wb]\d) = "tosa.const"\(\) <\{values = dense<(.*?)> : tensor<([0-9x]+)xf32>', source.read_text()):
    constants[name] = np.array(json.loads(values), np.float64).reshape([int(d) for d in shape.split("x")])

params = json.loads((directory / "params.json").read_text())
exposed_text = (directory / "exposed-q.mlir").read_text()
ids = re.findall(r'"([^"]*)"', re.search(r"qnn\.exposed_activations = \[(.*?)\]", exposed_text, re.S).group(1))
# The activations in program order: input, padded input, conv1 + ReLU6,
# padded, conv2 + ReLU, average pool, reshape, fully connected.
kinds = ["net.arg0", "tensor.pad", "linalg.generic", "tensor.pad", "linalg.generic", "linalg.generic",
         "tensor.collapse_shape", "linalg.batch_matmul"]
assert [i.split("@")[0] for i in ids] == kinds, ids
results = run("exposed-q.mlir", 1 + len(ids))
types = [ref.parse_quant_type(params["activations"][i]) for i in ids]
stored = [recover_stored(values, t) for values, t in zip(results[1:], types)]
assert all(s is not None for s in stored), "an exposed activation is not dequantized integers"
# The weights' types, in program order (convolutions by line, then the
# fully connected layer).
weight_names = sorted(params["weights"], key=lambda n: (n.startswith("linalg.batch"),
                                                       int(n.split("@")[1].split(":")[0])))
w_types = [params["weights"][n] for n in weight_names]

checked = []


def check(name, want, got):
    assert want.shape == got.shape, (name, want.shape, got.shape)
    checked.append((name, want.size, int(np.count_nonzero(want != got))))


def pad(x, x_type, top, bottom, left, right):
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)),
                  constant_values=int(x_type.zero_points))


def conv(index, x, x_type, y_type, w, b, stride, bounds):
    """A TOSA conv2d (OHWI filters, per output channel weights) as the
    reference's HWCF convolution."""
    w_type = ref.parse_quant_type(w_types[index], shape=w.shape)
    w_stored = ref.quantize(w.astype(np.float32), w_type).astype(np.int64).transpose(1, 2, 3, 0)
    layer = Layer(kind="nhwc", x_shape=x.shape[1:], w=w.transpose(1, 2, 3, 0), bias=b,
                  activation="none", strides=stride)
    return contraction_reference(layer, x, x_type, w_stored, w_type, y_type, bounds)


check("pad1", pad(stored[0], types[0], 1, 1, 1, 1), stored[1])
check("conv1", conv(0, stored[1], types[1], types[2], constants["%w1"], constants["%b1"], 1, (0.0, 6.0)),
      stored[2])
check("pad2", pad(stored[2], types[2], 0, 1, 0, 1), stored[3])
check("conv2", conv(1, stored[3], types[3], types[4], constants["%w2"], constants["%b2"], 2, (0.0, None)),
      stored[4])
check("pool", ref.average_pool_nhwc(stored[4], types[4], (4, 4), (4, 4), divisor=16.0, factor=None,
                                    out_type=types[5]), stored[5])
check("flatten", stored[5].reshape(stored[6].shape), stored[6])
w3 = constants["%w3"]
w3_type = ref.parse_quant_type(w_types[2], shape=w3.shape)
fc = Layer(kind="batch_matmul", x_shape=stored[6].shape[1:], w=w3, bias=None, activation="none", strides=1)
check("fc", contraction_reference(fc, stored[6], types[6],
                                  ref.quantize(w3.astype(np.float32), w3_type).astype(np.int64), w3_type,
                                  types[7], None), stored[7])
# The exposed program computes what the quantized one does.
assert np.array_equal(results[0], run("quantized.mlir", 1)[0]), "exposure changed the program's output"
assert np.array_equal(results[0], results[-1]), "the output is not the last activation"
assert len(np.unique(stored[7])) > 20, "outputs too uniform for the check to mean much"
print(f"{len(images)} images, {len(checked)} layers ({', '.join(n for n, _, _ in checked)}), "
      f"{sum(s for _, s, _ in checked)} stored elements: {sum(m for _, _, m in checked)} mismatching")
for name, size, mismatches in checked:
    if mismatches:
        print(f"  {name}: {mismatches} of {size}")
