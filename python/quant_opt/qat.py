"""Quantization-aware fine-tuning: a float ONNX model fine-tuned for a few
epochs with fake quantization that follows docs/Semantics.md, exported as a
QDQ ONNX model that quant-eval evaluates as it is.

    scripts/quant-qat models/fashion-cnn/model.onnx --data fashion-mnist \\
        --weight-bits 4 --epochs 2 -o /tmp/qat
    scripts/quant-eval /tmp/qat/model-qat.onnx --data fashion-mnist

The model is run in PyTorch (Debian's python3-torch, CPU) straight from its
ONNX graph, so any model made of the ops in `OPS` can be fine-tuned without
its training code. The scheme is quant-opt's default recipe
(docs/Quantization.md): weights symmetric, narrow range, per output channel
(`i8<-127:127>`, or `[-7, 7]` at 4 bits); activations u8 asymmetric, their
ranges initialized by min/max on the calibration split. Fake quantization
is exactly `qnn.quantize` followed by `qnn.dequantize` in f32 (one IEEE
division by the scale, round half to even, add the zero point, saturate,
subtract it, one multiplication), with a straight-through estimator for the
rounding. Scales are learned (LSQ, Esser et al. 2020: the gradient reaches
each scale through the division and the multiplication); zero points stay
where calibration put them. The export writes the fine-tuned weights as
their integers (INT8, or INT4 at opset 21) under a per-axis
DequantizeLinear, and a QuantizeLinear / DequantizeLinear pair with the
learned parameters on every activation the model fake-quantized.
docs/Quantization.md, "Quantization-aware fine-tuning", has the measurements.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import datasets
from .calibration import choose_parameters, weight_parameters
from .onnx_import.graph import name_unnamed_nodes

# Contractions whose constant weights are fake-quantized, and the layout of
# those weights' output channels.
CONTRACTIONS = ("Conv", "Gemm", "MatMul")
# Ops after which an activation is quantized (their outputs are what the
# integer program stores). An activation op after a contraction takes its
# place; data movement (Flatten, Reshape) keeps its input's quantization.
ACTIVATIONS = ("Relu", "Clip")
QUANTIZED_OUTPUTS = CONTRACTIONS + ACTIVATIONS + ("Add", "AveragePool", "GlobalAveragePool")
OPS = QUANTIZED_OUTPUTS + ("MaxPool", "Flatten", "Reshape", "Constant")

ACTIVATION_RANGE = (0, 255)  # u8 asymmetric, quant-opt's default


class QatError(Exception):
    """A model, option or environment quant-qat cannot take."""


def _torch():
    # Spinning OpenMP threads make training on a busy 2-core machine about
    # twice as slow (measured: 100 steps of fashion-mobilenet, 13.4 s against
    # 6.8 s); passive waiting avoids it. Only effective before torch loads.
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the machine
        raise QatError("quantization-aware training needs PyTorch: Debian's python3-torch "
                       "(scripts/install-torchvision.sh installs it)") from error
    return torch


def weight_range(bits: int) -> tuple[int, int]:
    """The symmetric narrow storage range of `bits`-bit weights."""
    if not 2 <= bits <= 8:
        raise QatError(f"--weight-bits must be between 2 and 8, got {bits}")
    top = 2 ** (bits - 1) - 1
    return -top, top


def fake_quantize(x, scale, zero_point, qmin: int, qmax: int):
    """qnn.dequantize(qnn.quantize(x)) in f32 (docs/Semantics.md), with the
    rounding's gradient passed straight through. `scale` and `zero_point`
    broadcast against `x`; gradients reach `x` inside the range and `scale`
    everywhere (LSQ)."""
    return _fake_quantize_function().apply(x, scale, float(zero_point), qmin, qmax)


_FUNCTION = None


def _fake_quantize_function():
    """fake_quantize as one autograd node: the same values and gradients as
    writing it with a detached rounding, for a third of the elementwise
    passes in training."""
    global _FUNCTION
    if _FUNCTION is not None:
        return _FUNCTION
    torch = _torch()

    class FakeQuantize(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale, zero_point, qmin, qmax):
            v = x / scale  # one IEEE division, as qnn.quantize
            r = v.round()  # half to even
            q = (r + zero_point).clamp(qmin, qmax)
            inside = (r + zero_point >= qmin) & (r + zero_point <= qmax)
            ctx.save_for_backward(v, r, q, inside)
            ctx.zero_point = zero_point
            ctx.scale_shape = scale.shape
            return (q - zero_point) * scale

        @staticmethod
        def backward(ctx, grad):
            v, r, q, inside = ctx.saved_tensors
            grad_x = grad * inside
            # d/ds of (q - z) s: inside the range q - z = round(v) with v =
            # x / s, so round(v) - v (the rounding's gradient is 1); outside,
            # q - z is constant.
            local = torch.where(inside, r - v, q - ctx.zero_point)
            grad_scale = (grad * local).sum_to_size(ctx.scale_shape) if ctx.needs_input_grad[1] else None
            return grad_x, grad_scale, None, None, None

    _FUNCTION = FakeQuantize
    return _FUNCTION


@dataclass
class Layer:
    """A fake-quantized weight: which initializer, its output-channel axis."""
    node: str
    weight: str
    axis: int


def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def plan(model: onnx.ModelProto) -> tuple[list[Layer], list[str]]:
    """The weights and the activations to fake-quantize: every contraction's
    constant weight, per output channel; the graph's float inputs and the
    outputs of QUANTIZED_OUTPUTS, except a contraction output whose only
    reader is an activation op (the activation's output is stored)."""
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    unsupported = sorted({n.op_type for n in graph.node if n.op_type not in OPS})
    if unsupported:
        raise QatError(f"quant-qat runs the ONNX graph in PyTorch and does not implement: "
                       f"{', '.join(unsupported)} (it has: {', '.join(OPS)})")
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    layers = []
    points = [i.name for i in graph.input if i.name not in initializers]
    for node in graph.node:
        if node.op_type in CONTRACTIONS:
            if len(node.input) < 2 or node.input[1] not in initializers:
                raise QatError(f"{node.op_type} node '{node.name}': its weight is not an initializer")
            a = _attrs(node)
            if node.op_type == "Conv":
                axis = 0
            elif node.op_type == "Gemm":
                if a.get("transA", 0):
                    raise QatError(f"Gemm node '{node.name}': transA=1 is not supported")
                axis = 0 if a.get("transB", 0) else 1
            else:
                axis = 1
            layers.append(Layer(node.name, node.input[1], axis))
        if node.op_type in QUANTIZED_OUTPUTS:
            out = node.output[0]
            only = readers.get(out, [])
            if node.op_type in CONTRACTIONS and len(only) == 1 and only[0].op_type in ACTIVATIONS:
                continue
            points.append(out)
    return layers, points


def build_module(model: onnx.ModelProto, weight_bits: int | None):
    """The ONNX graph as a torch.nn.Module: initializers are parameters
    (trainable if they are a contraction's weight or bias), each activation
    of `plan` and each weight is fake-quantized (when `weight_bits` is not
    None), with learnable scales."""
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    layers, points = plan(model)
    graph = model.graph

    class Graph(nn.Module):
        def __init__(self):
            super().__init__()
            self.quantize = weight_bits is not None
            self.values = nn.ParameterDict()
            self.keys = {}
            trainable = {layer.weight for layer in layers}
            for node in graph.node:
                if node.op_type in CONTRACTIONS and len(node.input) > 2:
                    trainable.add(node.input[2])
            for i, init in enumerate(graph.initializer):
                key = f"p{i}"
                self.keys[init.name] = key
                array = numpy_helper.to_array(init)
                tensor = torch.tensor(array.astype(np.float32) if array.dtype.kind == "f" else array)
                self.values[key] = nn.Parameter(tensor, requires_grad=init.name in trainable
                                                and tensor.is_floating_point())
            self.layers = {layer.weight: layer for layer in layers}
            self.points = points
            self.weight_scales = nn.ParameterDict()
            self.act_scales = nn.ParameterDict()
            self.act_zero_points = {}
            self.qrange = weight_range(weight_bits) if weight_bits is not None else None
            for layer in layers if self.qrange else ():
                # The scales post-training quantization would choose.
                w = self.values[self.keys[layer.weight]].detach().numpy()
                scales, _ = weight_parameters(w, *self.qrange, symmetric=True, axis=layer.axis)
                self.weight_scales[self.keys[layer.weight]] = nn.Parameter(
                    torch.tensor(scales.astype(np.float32)))
            self.calibrating = False
            self.observed: dict[str, tuple[float, float]] = {}

        def weight(self, name):
            value = self.values[self.keys[name]]
            if not self.quantize or name not in self.layers:
                return value
            layer = self.layers[name]
            shape = [1] * value.dim()
            shape[layer.axis] = -1
            scale = self.weight_scales[self.keys[name]].abs().clamp_min(1e-12).reshape(shape)
            return fake_quantize(value, scale, 0.0, *self.qrange)

        def activation(self, name, x):
            if self.calibrating:
                lo, hi = float(x.min()), float(x.max())
                old = self.observed.get(name)
                self.observed[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
                return x
            if not self.quantize or name not in self.act_zero_points:
                return x
            scale = self.act_scale(name).abs().clamp_min(1e-12)
            return fake_quantize(x, scale, self.act_zero_points[name], *ACTIVATION_RANGE)

        def act_scale(self, name):
            # (ParameterDict keys cannot hold ONNX names' dots.)
            return self.act_scales[f"a{self.points.index(name)}"]

        def set_ranges(self):
            """Activation scales and zero points from the observed min/max
            (docs/Calibration.md, asymmetric)."""
            for i, name in enumerate(self.points):
                lo, hi = self.observed[name]
                s, z = choose_parameters(lo, hi, *ACTIVATION_RANGE, symmetric=False)
                self.act_scales[f"a{i}"] = nn.Parameter(torch.tensor(np.float32(s)))
                self.act_zero_points[name] = float(z)

        def forward(self, *inputs):
            env = {}
            for value, inp in zip(inputs, [i for i in graph.input if i.name not in self.keys]):
                env[inp.name] = self.activation(inp.name, value)

            def get(name):
                if name in env:
                    return env[name]
                if name in self.keys:
                    return self.weight(name)
                raise QatError(f"value '{name}' is read before it is defined")

            for node in graph.node:
                a = _attrs(node)
                op = node.op_type
                ins = [get(n) if n else None for n in node.input]
                if op == "Conv":
                    pads = a.get("pads", [0, 0, 0, 0])
                    if pads[:2] != pads[2:] or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                        raise QatError(f"Conv node '{node.name}': asymmetric or automatic padding")
                    out = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                                   stride=a.get("strides", [1, 1]), padding=pads[:2],
                                   dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
                elif op == "Gemm":
                    if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                        raise QatError(f"Gemm node '{node.name}': alpha and beta must be 1")
                    w = ins[1].t() if a.get("transB", 0) else ins[1]
                    out = ins[0] @ w + (ins[2] if len(ins) > 2 and ins[2] is not None else 0)
                elif op == "MatMul":
                    out = ins[0] @ ins[1]
                elif op == "Relu":
                    out = F.relu(ins[0])
                elif op == "Clip":
                    lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min")
                    hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max")
                    out = ins[0].clamp(None if lo is None else float(lo), None if hi is None else float(hi))
                elif op == "Add":
                    out = ins[0] + ins[1]
                elif op == "MaxPool":
                    pads = a.get("pads", [0, 0, 0, 0])
                    out = F.max_pool2d(ins[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]),
                                       pads[:2], a.get("dilations", [1, 1]), bool(a.get("ceil_mode", 0)))
                elif op == "AveragePool":
                    pads = a.get("pads", [0, 0, 0, 0])
                    out = F.avg_pool2d(ins[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]),
                                       pads[:2], bool(a.get("ceil_mode", 0)),
                                       bool(a.get("count_include_pad", 0)))
                elif op == "GlobalAveragePool":
                    out = ins[0].mean(dim=(2, 3), keepdim=True)
                elif op == "Flatten":
                    axis = a.get("axis", 1)
                    out = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
                elif op == "Reshape":
                    shape = [int(d) for d in ins[1]]
                    shape = [ins[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
                    out = ins[0].reshape(shape)
                elif op == "Constant":
                    out = torch.tensor(numpy_helper.to_array(a["value"]))
                else:  # plan() refused it
                    raise QatError(f"op {op} is not implemented")
                env[node.output[0]] = self.activation(node.output[0], out)
            return [env[o.name] for o in graph.output]

    return Graph()


def _batches(n: int, batch: int, rng=None):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, batch):
        yield order[i:i + batch]


def evaluate_top1(module, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    torch = _torch()
    module.eval()
    correct = 0
    with torch.no_grad():
        for idx in _batches(len(x), batch):
            correct += int((module(torch.from_numpy(x[idx]))[0].argmax(1).numpy() == y[idx]).sum())
    return correct / len(x)


def fine_tune(model: onnx.ModelProto, data: str, weight_bits: int, epochs: int, lr: float = 5e-4,
              batch: int = 64, seed: int = 0, train_limit: int | None = None,
              calibration_limit: int | None = None, verbose: bool = True):
    """Calibrates the activation ranges (min/max on the calibration split),
    then fine-tunes weights, biases and all scales with Adam for `epochs`
    passes over the training split (cosine-decayed learning rate), the loss
    being cross-entropy with the labels. Returns the module and a log."""
    torch = _torch()
    torch.manual_seed(seed)
    module = build_module(model, weight_bits)
    x_cal, _ = datasets.load(data, "calibration")
    x_cal = x_cal[:calibration_limit]
    module.calibrating = True
    with torch.no_grad():
        for idx in _batches(len(x_cal), 500):
            module(torch.from_numpy(x_cal[idx]))
    module.calibrating = False
    module.set_ranges()
    x_train, y_train = datasets.load(data, "train")
    x_train, y_train = x_train[:train_limit], y_train[:train_limit]
    params = [p for p in module.values.values() if p.requires_grad]
    scales = list(module.weight_scales.values()) + list(module.act_scales.values())
    optimizer = torch.optim.Adam([{"params": params, "lr": lr}, {"params": scales, "lr": lr / 10}])
    steps = epochs * ((len(x_train) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
    rng = np.random.default_rng(seed)
    log = []
    for epoch in range(epochs):
        start = time.time()
        module.train()
        total = 0.0
        for idx in _batches(len(x_train), batch, rng):
            logits = module(torch.from_numpy(x_train[idx]))[0]
            loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y_train[idx].astype(np.int64)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss) * len(idx)
        entry = {"epoch": epoch + 1, "loss": total / len(x_train), "seconds": round(time.time() - start, 1)}
        log.append(entry)
        if verbose:
            print(f"epoch {entry['epoch']}: loss {entry['loss']:.4f} ({entry['seconds']} s)", file=sys.stderr)
    module.eval()
    return module, log


def export_qdq(model: onnx.ModelProto, module, weight_bits: int) -> onnx.ModelProto:
    """`model` with the fine-tuned weights and biases, each contraction
    weight stored as its integers (`qnn.quantize` of the weight at the
    learned per-channel scales) under a DequantizeLinear, and a
    QuantizeLinear / DequantizeLinear pair with the learned parameters on
    every fake-quantized activation (a MaxPool after one gets the same pair:
    max commutes with quantization, and it keeps the integer chain unbroken)."""
    torch = _torch()
    out = copy.deepcopy(model)
    graph = out.graph
    qmin, qmax = weight_range(weight_bits)
    four_bit = weight_bits <= 4
    storage = onnx.TensorProto.INT4 if four_bit else onnx.TensorProto.INT8
    inits = {i.name: i for i in graph.initializer}
    new_nodes = []
    with torch.no_grad():
        for name, key in module.keys.items():
            value = module.values[key].detach().numpy()
            if name in module.layers:
                layer = module.layers[name]
                scale = module.weight_scales[key].detach().abs().clamp_min(1e-12).numpy().astype(np.float32)
                shape = [1] * value.ndim
                shape[layer.axis] = -1
                # qnn.quantize: one f32 division, round half to even, saturate.
                q = np.clip(np.rint(value / scale.reshape(shape)), qmin, qmax).astype(np.int64)
                qname, sname, zname = f"{name}_quantized", f"{name}_scale", f"{name}_zero_point"
                graph.initializer.remove(inits[name])
                graph.initializer.extend([
                    helper.make_tensor(qname, storage, q.shape, q.flatten().tolist()),
                    numpy_helper.from_array(scale, sname),
                    helper.make_tensor(zname, storage, scale.shape, [0] * scale.size)])
                new_nodes.append(helper.make_node("DequantizeLinear", [qname, sname, zname], [name],
                                                  name=f"{name}_DequantizeLinear", axis=layer.axis))
            elif module.values[key].requires_grad:
                inits[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
    params = {}
    for name in module.points:
        s = np.float32(module.act_scale(name).detach().abs().clamp_min(1e-12))
        params[name] = (s, np.uint8(module.act_zero_points[name]))
    producers = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.op_type == "MaxPool" and node.input[0] in params:
            params[node.output[0]] = params[node.input[0]]
    outputs = {o.name for o in graph.output}
    renamed = {}
    pairs = []
    for name, (s, z) in params.items():
        sname, zname = f"{name}_scale", f"{name}_zero_point"
        graph.initializer.extend([numpy_helper.from_array(np.array(s, np.float32), sname),
                                  numpy_helper.from_array(np.array(z, np.uint8), zname)])
        source, target = name, f"{name}_DequantizeLinear_Output"
        if name in outputs:  # the graph output keeps its name
            source = f"{name}_QuantizeLinear_Input"
            producers[name].output[0] = source
        else:
            renamed[name] = target
        pairs.append((name, [
            helper.make_node("QuantizeLinear", [source, sname, zname], [f"{name}_QuantizeLinear_Output"],
                             name=f"{name}_QuantizeLinear"),
            helper.make_node("DequantizeLinear", [f"{name}_QuantizeLinear_Output", sname, zname],
                             [name if name in outputs else target], name=f"{name}_DequantizeLinear")]))
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    # Topological order: weight DequantizeLinears first, each activation
    # pair right after the node that produces it (graph inputs: first).
    after = {name: nodes for name, nodes in pairs}
    ordered = list(new_nodes)
    for inp in graph.input:
        ordered += after.pop(inp.name, [])
    for node in graph.node:
        ordered.append(node)
        for o in list(node.output) + [n for n in after if producers.get(n) is node]:
            ordered += after.pop(o, [])
    del graph.node[:]
    graph.node.extend(ordered)
    if four_bit:  # INT4 needs opset 21; the model's other ops mean the same there
        for opset in out.opset_import:
            if opset.domain in ("", "ai.onnx"):
                opset.version = max(opset.version, 21)
        out.ir_version = max(out.ir_version, 10)
    onnx.checker.check_model(out, full_check=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="quant-qat", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("model", type=Path, help="the float ONNX model")
    parser.add_argument("--data", required=True, choices=datasets.NAMES,
                        help="the data set: its train split fine-tunes, its calibration split "
                             "initializes the activation ranges")
    parser.add_argument("--weight-bits", type=int, default=8, help="weight bits, 2 to 8 (default: 8)")
    parser.add_argument("--epochs", type=int, default=2, help="passes over the training split (default: 2)")
    parser.add_argument("--lr", type=float, default=5e-4, help="Adam's learning rate for weights and "
                        "biases; scales get a tenth (default: 5e-4)")
    parser.add_argument("--batch", type=int, default=64, help="training batch (default: 64)")
    parser.add_argument("--train-limit", type=int, help="fine-tune on the first N training samples only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="directory for model-qat.onnx and qat.json")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 0:
            raise QatError(f"--epochs must be at least 0, got {args.epochs}")
        weight_range(args.weight_bits)
        if not args.model.is_file():
            raise QatError(f"model file '{args.model}' does not exist")
        model = onnx.load(str(args.model))
        name_unnamed_nodes(model.graph)  # as import_model names them
        torch = _torch()
        torch.set_num_threads(min(2, os.cpu_count() or 1))
        module, log = fine_tune(model, args.data, args.weight_bits, args.epochs, args.lr, args.batch,
                                args.seed, args.train_limit, verbose=not args.quiet)
        qdq = export_qdq(model, module, args.weight_bits)
    except QatError as error:
        print(f"quant-qat: error: {error}", file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    onnx.save(qdq, str(args.output / "model-qat.onnx"))
    summary = {"model": str(args.model), "data": args.data, "weight_bits": args.weight_bits,
               "epochs": args.epochs, "lr": args.lr, "batch": args.batch, "seed": args.seed,
               "train_limit": args.train_limit, "log": log}
    (args.output / "qat.json").write_text(json.dumps(summary, indent=2) + "\n")
    if not args.quiet:
        print(f"wrote {args.output / 'model-qat.onnx'} (W{args.weight_bits}A8, {args.epochs} epochs)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
