"""quant-eval: how much accuracy a model loses when quant-opt quantizes it,
and where.

    scripts/quant-eval models/fashion-cnn/model.onnx --data fashion-mnist -o report

One command: imports the float ONNX model (quant_opt.onnx_import),
calibrates it on the calibration data (quant-run --calibrate), quantizes it
(quant-opt --qnn-quantize-pipeline with the given options and recipe), lowers
the float and the quantized program through the same CPU pipeline, runs both
on the evaluation data and reports (docs/Harness.md defines each number):

- top-1 / top-5 against the labels, float and quantized, and the drop;
- top-1 agreement with float, logit MSE, SQNR, max |error|, cosine;
- per-layer error on the first --layer-samples samples: every quantized
  activation against the float program's (`propagated`: both programs run
  from the model input) and against the float layer run on the quantized
  program's own inputs (`local`: the error the layer adds by itself; the
  table is sorted by it, worst first);
- as JSON (report.json) and Markdown (report.md).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import heapq
import itertools
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from . import datasets, native
from .bitexact import check_layers, module_clamps, module_codebook_weights, module_weights
from .execution import find_tool, quant_run_command
from .onnx_import import UnsupportedModelError, import_model
from .onnx_import.graph import name_unnamed_nodes
from .onnx_import.qoperator import QOPERATOR_OPS


class EvaluationError(RuntimeError):
    """A problem with the inputs of an evaluation, said in one message."""


# --- data ---------------------------------------------------------------


def load_data(spec: str, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Images and labels: a data set name (quant_opt.datasets) or an .npz /
    .npy file (arrays `x` and optional `y`). Float arrays become float32;
    integer and bool arrays (token ids) keep their type, which
    `fit_input_type` then makes the model input's."""
    path = Path(spec)
    if path.suffix in (".npz", ".npy"):
        if not path.is_file():
            raise EvaluationError(f"data file '{spec}' does not exist")
        if path.suffix == ".npy":
            return as_input_array(np.load(path), spec), None
        with np.load(path) as archive:
            if "x" not in archive:
                raise EvaluationError(f"'{spec}' has no array 'x' (it has: {', '.join(archive.files)})")
            return as_input_array(archive["x"], spec), (archive["y"] if "y" in archive else None)
    try:
        return datasets.load(spec, split)
    except (ValueError, FileNotFoundError) as error:
        raise EvaluationError(str(error)) from None


def as_input_array(x: np.ndarray, spec: str) -> np.ndarray:
    """A loaded `x`: float32 from any float type; integers and bools as they are."""
    if x.dtype.kind == "f":
        return x.astype(np.float32)
    if x.dtype.kind in "biu":
        return x
    raise EvaluationError(f"'{spec}': array 'x' has type {x.dtype}, not numbers")


def model_input(model: onnx.ModelProto) -> onnx.ValueInfoProto:
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise EvaluationError(f"quant-eval takes models with one input; this one has {len(inputs)}")
    return inputs[0]


def model_input_shape(model: onnx.ModelProto) -> tuple[str, list]:
    value = model_input(model)
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in value.type.tensor_type.shape.dim]
    return value.name, dims


def fit_input_type(model: onnx.ModelProto, x: np.ndarray, what: str) -> np.ndarray:
    """`x` in the element type of the model's input: float data for a float
    input is float32 as before (integer data too: pixels become floats); an
    integer or bool input (token ids) takes integer data of that type, every
    value in its range, and refuses float data."""
    value = model_input(model)
    elem = value.type.tensor_type.elem_type
    if elem in (onnx.TensorProto.FLOAT, onnx.TensorProto.UNDEFINED):
        return x.astype(np.float32)
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem))
    if dtype.kind not in "biu":
        raise EvaluationError(f"input '{value.name}' is {onnx.TensorProto.DataType.Name(elem)}: quant-eval "
                              "takes FLOAT inputs and integer or bool ones (token ids)")
    if x.dtype.kind not in "biu":
        raise EvaluationError(f"the {what} data is {x.dtype}, but input '{value.name}' is "
                              f"{onnx.TensorProto.DataType.Name(elem)}: give integer data (token ids)")
    if dtype.kind != "b" and x.size:
        info = np.iinfo(dtype)
        if x.min() < info.min or x.max() > info.max:
            raise EvaluationError(f"the {what} data holds values in [{x.min()}, {x.max()}], outside "
                                  f"{onnx.TensorProto.DataType.Name(elem)} of input '{value.name}'")
    return x.astype(dtype)


def check_fits(name: str, dims: list, data: np.ndarray, what: str) -> None:
    expected = dims[1:]
    actual = list(data.shape[1:])
    if len(expected) != len(actual) or any(e is not None and e != a for e, a in zip(expected, actual)):
        shown = "x".join("?" if d is None else str(d) for d in dims)
        raise EvaluationError(
            f"the {what} data does not fit the model: its samples are {tuple(actual)}, "
            f"but input '{name}' is {shown} (batch first), i.e. samples of "
            f"{tuple('?' if d is None else d for d in expected)}")


# --- running the tools --------------------------------------------------


# Runs of little work are compiled at LLVM -O0: no LLVM optimization and the
# fast register allocator, the shortest compile (the transformer's per-layer
# program: 7 s against 24 at -O1), too short a run for LLVM's optimizations
# to pay back; the vectorization is MLIR's and LLVM keeps IEEE semantics at
# every level (docs/Harness.md). The work is the model's multiply-accumulates
# per sample (macs_per_sample) times the samples: up to SMALL_RUN_MACS, about
# where -O0's slower run (3 to 4 times -O3's for fashion-cnn's programs)
# costs what it saves in compile time. Where the model's work is not known,
# runs on fewer than SMALL_RUN_SAMPLES samples (calibration, the per-layer
# runs).
SMALL_RUN_MACS = 3e9
SMALL_RUN_SAMPLES = 2000


# The lowering verifies the IR once, at its end, not after each of its ~60
# passes (native.compile's verify_each, quant-run's --verify-each): a
# quarter of the compile time (docs/Harness.md). The lit suite runs the same
# pipelines verifying each pass.
VERIFY_EACH_PASS = False


def opt_level_for(samples: int, macs_per_sample: float | None = None) -> int:
    """LLVM's optimization level for a program run on `samples` samples of
    a model of `macs_per_sample` multiply-accumulates (None: unknown)."""
    if macs_per_sample is None:
        return 0 if samples < SMALL_RUN_SAMPLES else 3
    return 0 if samples * macs_per_sample <= SMALL_RUN_MACS else 3


_NAMED_CONTRACTION = re.compile(
    r"= linalg\.(conv_2d_nhwc_hwcf|depthwise_conv_2d_nhwc_hwc|matmul|batch_matmul)\b[^\n]*? ins\([^\n]*?: "
    r"tensor<([0-9x]+)x[^,>]+>, tensor<([0-9x]+)x[^>]+>\) outs\([^\n]*?: tensor<([0-9x]+)x[^>]+>\)")
_MAIN_BATCH = re.compile(r"func\.func @main\(%[\w.$-]+: tensor<(\d+)x")


def macs_per_sample(module_text: str) -> float | None:
    """The multiply-accumulates per sample of an imported float module's
    convolutions and matmuls (the named linalg ops the importer writes),
    from their static shapes and @main's batch; None if it has none."""
    batch = _MAIN_BATCH.search(module_text)
    total = 0
    for op, _, weight, out in _NAMED_CONTRACTION.findall(module_text):
        w = [int(d) for d in weight.split("x")]
        reduction = math.prod(w) // w[-1] // (w[0] if op == "batch_matmul" else 1)
        total += math.prod(int(d) for d in out.split("x")) * reduction
    if not batch or not total:
        return None
    return total / int(batch.group(1))


def _calibration_batch(samples: int, batch: int) -> int:
    """Calibration batches: the largest divisor of the sample count that
    fits, so that every calibration sample counts once."""
    return max(d for d in range(1, min(batch, samples) + 1) if samples % d == 0)


def available_cpus() -> int:
    """The CPUs this process may run on: batches run this many at a time."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class Tools:
    """quant-opt and quant-run, with a progress bar over quant-run's batches."""

    def __init__(self, workdir: Path, verbose: bool = True):
        self.quant_opt = find_tool("quant-opt")
        self.workdir = workdir
        self.verbose = verbose
        self.parallel_batches = available_cpus()
        # The model's work per sample, for opt_level_for (None: unknown).
        self.macs_per_sample = None

    def prefetch(self, module: Path, samples: int, priority: int = 0) -> None:
        """Nothing to start ahead: each quant-run compiles its module."""

    def opt(self, source: Path, args: list[str], output: Path) -> Path:
        # With locations: they carry the layer names recipes and reports use,
        # and the output is read again by the next step.
        # Through a temporary file: the output may be the input, which
        # quant-opt reads mapped while it writes.
        partial = output.with_name(output.name + ".partial")
        cmd = [self.quant_opt, str(source), *args, "--mlir-print-debuginfo", "-o", str(partial)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise EvaluationError(f"quant-opt failed:\n  {' '.join(cmd)}\n{result.stderr}")
        partial.replace(output)
        return output

    def run(self, module: Path, inputs: list[np.ndarray], num_results: int, label: str,
            extra: list[str] = ()) -> list[np.ndarray]:
        paths = []
        for i, array in enumerate(inputs):
            path = self.workdir / f"{module.stem}.in{i}.npy"
            np.save(path, array)
            paths.append(path)
        calibrating = "--calibrate" in extra
        outputs = [] if calibrating else [self.workdir / f"{module.stem}.out{i}.npy"
                                          for i in range(num_results)]
        extra = [*extra, f"--parallel-batches={self.parallel_batches}",
                 f"-O{opt_level_for(len(inputs[0]), self.macs_per_sample)}",
                 f"--verify-each={int(VERIFY_EACH_PASS)}"]
        self._stream(quant_run_command(module, paths, outputs, dataset=not calibrating, extra_args=extra),
                     label)
        for path in paths:
            path.unlink()
        results = [np.load(path) for path in outputs]
        for path in outputs:
            path.unlink()
        return results

    def _stream(self, cmd: list[str], label: str) -> None:
        """Runs `cmd`, drawing its "k/n batches" lines as a progress bar."""
        start = time.time()
        process = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        errors = []
        tty = sys.stderr.isatty()
        for line in process.stderr:
            match = re.match(r"(.*): (\d+)/(\d+) batches", line)
            if not match:
                errors.append(line)
                continue
            if self.verbose:
                done, total = int(match.group(2)), int(match.group(3))
                bar = "#" * (30 * done // total)
                text = f"  {label:<28} [{bar:<30}] {done}/{total} {match.group(1)}"
                if tty:
                    print("\r" + text, end="", file=sys.stderr, flush=True)
                elif done == total:
                    print(text, file=sys.stderr)
        process.wait()
        if tty and self.verbose:
            print(f"  ({time.time() - start:.1f} s)", file=sys.stderr)
        if process.returncode != 0:
            raise EvaluationError(f"quant-run failed:\n  {' '.join(cmd)}\n{''.join(errors)}")


class InProcessTools:
    """quant-opt's pipelines and quant-run's runner in this process
    (quant_opt.native): no subprocess, no .npy file per call; the same
    interface as Tools. Modules named by prefetch() compile on background
    threads while this one runs others, the most urgent first, and batches
    run on every CPU."""

    def __init__(self, workdir: Path, verbose: bool = True):
        self.workdir = workdir
        self.verbose = verbose
        self.parallel_batches = available_cpus()
        self.macs_per_sample = None
        self._compiler = concurrent.futures.ThreadPoolExecutor(max_workers=self.parallel_batches)
        self._compiling: dict[tuple[Path, int], tuple[str, concurrent.futures.Future]] = {}
        # Waiting compiles: (priority, order, future, text, level); each
        # task of the pool takes the most urgent.
        self._waiting: list = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def prefetch(self, module: Path, samples: int, priority: int = 0) -> None:
        """Starts compiling `module` for a run on `samples` samples, after
        the waiting compiles of a lower `priority` (the next step's program:
        0); run() takes the program from there."""
        text, level = module.read_text(), opt_level_for(samples, self.macs_per_sample)
        future = concurrent.futures.Future()
        with self._lock:
            heapq.heappush(self._waiting, (priority, next(self._order), future, text, level))
        self._compiling[module, level] = (text, future)
        self._compiler.submit(self._compile_next)

    def _compile_next(self) -> None:
        with self._lock:
            _, _, future, text, level = heapq.heappop(self._waiting)
        try:
            future.set_result(native.compile(text, "main", opt_level=level, verify_each=VERIFY_EACH_PASS))
        except BaseException as error:  # the caller of run() sees it
            future.set_exception(error)

    def _program(self, module: Path, samples: int):
        text, level = module.read_text(), opt_level_for(samples, self.macs_per_sample)
        started = self._compiling.pop((module, level), None)
        if started and started[0] == text:
            return started[1].result()
        return native.compile(text, "main", opt_level=level, verify_each=VERIFY_EACH_PASS)

    def opt(self, source: Path, args: list[str], output: Path) -> Path:
        try:
            output.write_text(native.opt(source.read_text(), args))
        except (RuntimeError, ValueError) as error:
            raise EvaluationError(f"quant-opt failed: {source} {' '.join(args)}\n{error}") from None
        return output

    def run(self, module: Path, inputs: list[np.ndarray], num_results: int, label: str,
            extra: list[str] = ()) -> list[np.ndarray]:
        start = time.time()
        extra = list(extra)
        try:
            program = self._program(module, len(inputs[0]))
            if "--calibrate" in extra:
                program.calibrate(inputs, extra[extra.index("--calibrate") + 1],
                                  parallel_batches=self.parallel_batches)
                results = []
            else:
                results = program.run_dataset(inputs, parallel_batches=self.parallel_batches)
        except RuntimeError as error:
            raise EvaluationError(f"running {module} failed ({label}):\n{error}") from None
        if len(results) != num_results:
            raise EvaluationError(f"{module} gave {len(results)} results, {num_results} expected")
        if self.verbose:
            print(f"  {label:<28} ({time.time() - start:.1f} s)", file=sys.stderr)
        return results


def make_tools(workdir: Path, verbose: bool = True):
    """In process where the Python extension is built (quant_opt.native),
    else the quant-opt and quant-run tools; QUANT_OPT_SUBPROCESS=1 chooses
    the tools."""
    if os.environ.get("QUANT_OPT_SUBPROCESS") != "1" and native.available():
        # As quant-run does for itself: the programs run batch after batch.
        native.keep_freed_memory_for_reuse()
        return InProcessTools(workdir, verbose)
    return Tools(workdir, verbose)


# --- metrics ------------------------------------------------------------


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    reference = np.asarray(reference, dtype=np.float64)
    return _sqnr_db(float(np.sum(reference ** 2)), float(np.sum((reference - approx) ** 2)))


def _sqnr_db(signal: float, noise: float) -> float:
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denominator) if denominator else (1.0 if np.array_equal(a, b) else 0.0)


def compare(reference: np.ndarray, approx: np.ndarray) -> dict:
    """Error of `approx` against `reference` (same shape, samples first):
    over all elements, and the cosine of each sample's output, averaged."""
    # float64 once: the per-layer table compares large activations.
    reference = np.asarray(reference, dtype=np.float64)
    approx = np.asarray(approx, dtype=np.float64)
    diff = approx - reference
    # Each square once: the same numbers as sqnr_db's, mean's and
    # np.linalg.norm's own (x ** 2 is x * x, and (r - a) ** 2 is (a - r) ** 2).
    squared_error = diff * diff
    reference_squared = reference * reference
    if reference.ndim:
        rows = reference.reshape(len(reference), -1)
        approx_rows = approx.reshape(len(approx), -1)
        # np.linalg.norm(rows, axis=1) is the square root of this sum.
        norms = (np.sqrt(np.add.reduce(reference_squared.reshape(rows.shape), axis=1))
                 * np.sqrt(np.add.reduce(approx_rows * approx_rows, axis=1)))
    sample_cosine = (float(np.mean(np.sum(rows * approx_rows, axis=1) / np.where(norms > 0, norms, 1.0)))
                     if reference.ndim and len(reference) else cosine(reference, approx))
    return {"mse": float(np.mean(squared_error)),
            "sqnr_db": _sqnr_db(float(np.sum(reference_squared)), float(np.sum(squared_error))),
            "max_abs_error": float(np.max(np.abs(diff))) if diff.size else 0.0,
            "cosine": cosine(reference, approx), "sample_cosine": sample_cosine}


def topk(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    k = min(k, logits.shape[1])
    best = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(best == labels[:, None], axis=1)))


# --- the evaluation -----------------------------------------------------


@dataclass
class Config:
    model: Path
    data: str
    calibration_data: str | None = None
    split: str = "test"
    recipe: Path | None = None
    options: str = ""
    batch: int = 100
    limit: int | None = None
    calibration_limit: int | None = None
    layer_samples: int = 200
    name: str | None = None
    verbose: bool = True
    keep: Path | None = None
    # classification: the outputs are logits (top-1/top-5, agreement);
    # embedding: vectors, compared by SQNR and cosine only.
    task: str = "classification"
    # quant-opt passes run on the imported float model before anything else
    # (e.g. "qnn-equalize-cross-layer"), space-separated.
    float_passes: str = ""
    # (mean, std): inputs become (x - mean) / std, as torchvision's Normalize,
    # for models trained on normalized images; None leaves them as loaded.
    normalize: tuple[float, float] | None = None
    # Automatic 16-bit fallback: activations whose local SQNR (the per-layer
    # table) is below this many dB are requantized at 16 bits and the model
    # evaluated again; None: off.
    fallback_sqnr: float | None = None


def pad_to_batches(x: np.ndarray, batch: int) -> np.ndarray:
    rest = (-len(x)) % batch
    if rest:
        x = np.concatenate([x, np.zeros((rest,) + x.shape[1:], x.dtype)])
    return x


def exposed_ids(module_text: str) -> list[str]:
    match = re.search(r"qnn\.exposed_activations = \[(.*?)\]", module_text, re.S)
    return re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1)) if match else []


def node_segments(model: onnx.ModelProto, ids: list[str]) -> tuple[dict[str, str], dict[str, list]]:
    """For each id, the ONNX nodes whose computation ends in it: the node
    it is named after and the nodes feeding it that have no id of their own
    (a Conv, its folded BatchNormalization and its Relu are one layer).
    Returns a description ("Conv + Relu") and the nodes, by id."""
    nodes = {n.name: n for n in model.graph.node}
    producer = {o: n for n in model.graph.node for o in n.output}
    # Constants: initializers and what nodes compute from constants alone
    # (the importer evaluates those), and shapes (static once imported).
    constant = {i.name for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type in ("Constant", "Shape") or all(not i or i in constant for i in n.input):
            constant.update(n.output)
    named = set(ids)
    result, members = {}, {}
    for id_ in ids:
        members[id_] = []
        base = id_.rsplit(".", 1)[0] if id_ not in nodes and "." in id_ else id_
        base = re.sub(r"_\d+$", "", base) if base not in nodes else base
        node = nodes.get(base)
        if node is None:
            result[id_] = "input" if id_ in {i.name for i in model.graph.input} else ""
            continue
        if base != id_:
            result[id_] = f"{node.op_type} ({id_[len(base) + 1:] or 'part'})"
            continue
        chain, stack, seen = [], [node], set()
        while stack:
            current = stack.pop()
            if current.name in seen:
                continue
            seen.add(current.name)
            chain.append(current.op_type)
            members[id_].append(current)
            for name in current.input:
                feeder = producer.get(name)
                if feeder is not None and name not in constant and feeder.name not in named \
                        and feeder.op_type != "Constant":
                    stack.append(feeder)
        result[id_] = " + ".join(reversed(chain))
    return result, members


# Float passes that read the contraction statistics (docs/Quantization.md,
# "Data-driven repair"): quant-eval computes them when none are named.
STATISTICS_PASSES = ("qnn-round-weights-gptq", "qnn-correct-bias", "qnn-smooth-quant")


def float_pass_args(text: str) -> list[str]:
    """quant-opt arguments for --float-passes: passes separated by spaces,
    each `name` or `name{option=value option=value}`."""
    args, depth, current = [], 0, ""
    for char in text + " ":
        if char.isspace() and depth == 0:
            if current:
                name, _, options = current.partition("{")
                args.append(f"--{name}" + (f"={options.rstrip('}')}" if options.rstrip("}") else ""))
            current = ""
            continue
        depth += (char == "{") - (char == "}")
        current += char
    return args


def collect_contraction_statistics(tools, module: Path, details: dict, x: np.ndarray, batch: int,
                                   num_outputs: int, output: Path, chunk: int = 200) -> None:
    """The mean and second moment of each contraction's input patches
    (quant_opt.weight_rounding) over `x`, run through the float `module`
    (of batch size `batch`) with its activations exposed."""
    from .weight_rounding import Accumulator, patches, write_statistics
    exposed = tools.opt(module, ["--qnn-expose-activations"], module.with_name("statistics_exposed.mlir"))
    ids = exposed_ids(exposed.read_text())
    wanted = {name: layer for name, layer in details.get("contractions", {}).items() if layer["input"] in ids}
    accumulators = {name: Accumulator(layer["kind"], layer["weight"].shape) for name, layer in wanted.items()}
    chunk = max(batch, chunk // batch * batch)
    total = num_outputs + len(ids)
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk]
        results = tools.run(exposed, [part], total, f"statistics {start + len(part)}/{len(x)}")
        acts = dict(zip(ids, results[num_outputs:]))
        for name, layer in wanted.items():
            w = layer["weight"]
            kernel = w.shape[:2] if layer["kind"] != "matmul" else None
            accumulators[name].add(patches(acts[layer["input"]], layer["kind"], kernel,
                                           layer["strides"], layer["dilations"]))
    write_statistics(output, {name: acc.result() for name, acc in accumulators.items()})


class Evaluation:
    """One model on one data set: imported, calibrated and run in float once;
    then quantized and compared as many times as there are recipes."""

    def __init__(self, config: Config, workdir: Path):
        self.config = config
        self.work = workdir
        self.log = (lambda *a: print(*a, file=sys.stderr)) if config.verbose else (lambda *a: None)
        try:
            self.model = onnx.load(str(config.model))
        except Exception as error:  # onnx raises several kinds
            raise EvaluationError(f"cannot read ONNX model '{config.model}': {error}") from None
        # The names import_model gives unnamed nodes, for the reports' layers.
        name_unnamed_nodes(self.model.graph)
        input_name, dims = model_input_shape(self.model)
        self.x_eval, self.y_eval = load_data(config.data, config.split)
        # The calibration data loads on another thread (decompressing a data
        # set's training file takes a while) as the float program is
        # imported and starts compiling; self.x_cal waits for it.
        self._x_cal = None
        loader = concurrent.futures.ThreadPoolExecutor(1)
        self._x_cal_loading = loader.submit(self._load_calibration, input_name, dims)
        loader.shutdown(wait=False)
        if config.limit:
            self.x_eval = self.x_eval[:config.limit]
            self.y_eval = self.y_eval[:config.limit] if self.y_eval is not None else None
        self.x_eval = fit_input_type(self.model, self.x_eval, "evaluation")
        if config.normalize is not None:
            if self.x_eval.dtype != np.float32:
                raise EvaluationError(f"--normalize needs a float input; '{input_name}' is {self.x_eval.dtype}")
            mean, std = (np.float32(v) for v in config.normalize)
            self.x_eval = (self.x_eval - mean) / std
        check_fits(input_name, dims, self.x_eval, "evaluation")
        self.tools = make_tools(workdir, config.verbose)
        self.batch = min(config.batch, len(self.x_eval))
        self.num_outputs = len(self.model.graph.output)
        # A model that carries its own quantization (ONNX Runtime's quantizer,
        # QAT export): nothing to calibrate; its QDQ program, simulated in
        # float, is the reference for the integer program quant-opt makes.
        # QOperator models (QLinearConv, ...) are imported as the same QDQ form.
        self.qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")
                       or n.op_type in QOPERATOR_OPS
                       for n in self.model.graph.node)

    def _load_calibration(self, input_name: str, dims: list) -> np.ndarray:
        config = self.config
        x_cal, _ = load_data(config.calibration_data or config.data,
                             "calibration" if config.calibration_data is None else "train")
        if config.calibration_limit:
            x_cal = x_cal[:config.calibration_limit]
        x_cal = fit_input_type(self.model, x_cal, "calibration")
        if config.normalize is not None:
            mean, std = (np.float32(v) for v in config.normalize)
            x_cal = (x_cal - mean) / std
        check_fits(input_name, dims, x_cal, "calibration")
        return x_cal

    @property
    def x_cal(self) -> np.ndarray:
        """The calibration samples (once loaded)."""
        if self._x_cal is None:
            self._x_cal = self._x_cal_loading.result()
        return self._x_cal

    def prepare(self) -> None:
        """Imports, calibrates and runs the float program."""
        config, work = self.config, self.work
        self.details = {}
        try:
            float_text = import_model(self.model, self.batch, details=self.details)
        except UnsupportedModelError as error:
            raise EvaluationError(f"{config.model}: {error}") from None
        self.tools.macs_per_sample = macs_per_sample(float_text)
        self.float_mlir = work / "float.mlir"
        self.float_mlir.write_text(float_text)
        self.x_padded = pad_to_batches(self.x_eval, self.batch)
        # Unless passes rewrite it with the calibration data, the float
        # program and the per-layer ones start compiling before that data
        # is loaded, after the calibration program (prefetch's priority).
        early = not config.float_passes and not self.qdq
        instrumented = None
        if early:
            # Calibration is first on the critical path: where the sample
            # count is known before the data loads (a named data set's
            # calibration split), its program starts compiling first.
            expected = self._expected_calibration_samples()
            if expected is not None and _calibration_batch(expected, config.batch) == self.batch:
                (work / "calibration_model.mlir").write_text(float_text)
                instrumented = self.tools.opt(work / "calibration_model.mlir", ["--qnn-insert-observers"],
                                              work / "instrumented.mlir")
                self.tools.prefetch(instrumented, expected)
            self._prefetch_float()
        try:
            cal_batch = _calibration_batch(len(self.x_cal), config.batch)
            cal_text = float_text if cal_batch == self.batch else import_model(self.model, cal_batch)
        except UnsupportedModelError as error:
            raise EvaluationError(f"{config.model}: {error}") from None
        if instrumented is not None and cal_text != float_text:
            instrumented = None  # the guess was wrong: instrument the right program
        if instrumented is None:
            (work / "calibration_model.mlir").write_text(cal_text)
        if config.float_passes:
            # Rewrites of the float model (cross-layer equalization, GPTQ
            # rounding, bias correction): the float program, calibration and
            # quantization all start from it.
            passes = float_pass_args(config.float_passes)
            if any(p.split("=", 1)[0][2:] in STATISTICS_PASSES and "statistics=" not in p for p in passes):
                # Those that need the contraction statistics get them from
                # the original float model on the calibration data.
                statistics = work / "contraction_statistics.json"
                collect_contraction_statistics(self.tools, work / "calibration_model.mlir", self.details,
                                               self.x_cal, cal_batch, self.num_outputs, statistics)
                passes = [p + (" " if "=" in p else "=") + f"statistics={statistics}"
                          if p.split("=", 1)[0][2:] in STATISTICS_PASSES and "statistics=" not in p else p
                          for p in passes]
            for path in (self.float_mlir, work / "calibration_model.mlir"):
                self.tools.opt(path, passes, path)
            # The bit-exactness reference quantizes the weights the program
            # now holds, not the ONNX file's.
            rewritten = module_weights(self.float_mlir.read_text())
            for name, layer in self.details.get("contractions", {}).items():
                weight, bias = rewritten.get(name, (None, None))
                if weight is not None and weight.shape == layer["weight"].shape:
                    layer["weight"] = weight
                    if layer["bias"] is not None and bias is not None and bias.shape == np.shape(layer["bias"]):
                        layer["bias"] = bias
            # Codebook weights: the stored values the program holds.
            for name, (stored, type_text, bias) in module_codebook_weights(self.float_mlir.read_text()).items():
                layer = self.details.get("contractions", {}).get(name)
                if layer is not None and stored.shape == layer["weight"].shape:
                    layer["codebook"] = (stored, type_text)
                    if layer["bias"] is not None and bias is not None and bias.shape == np.shape(layer["bias"]):
                        layer["bias"] = bias
            clamps = module_clamps(self.float_mlir.read_text())
            for name in self.details.get("clamps", {}):
                if name in clamps:
                    self.details["clamps"][name] = clamps[name]
        self.log(f"quant-eval: {config.model} on {config.data} ({len(self.x_eval)} samples), "
                 f"calibrated on {len(self.x_cal)}")
        if not self.qdq and instrumented is None:
            instrumented = self.tools.opt(work / "calibration_model.mlir", ["--qnn-insert-observers"],
                                          work / "instrumented.mlir")
            self.tools.prefetch(instrumented, len(self.x_cal))
        if not early:
            self._prefetch_float()
        if not self.qdq:
            self.statistics = work / "statistics.json"
            self.tools.run(instrumented, [self.x_cal], 0, "calibrate", ["--calibrate", str(self.statistics)])
        # The float program runs when its output is first needed (float_out):
        # after run() has started compiling the quantized programs.
        self._float_out = None

    @property
    def float_out(self) -> np.ndarray:
        """The float program's output on the evaluation samples (run once)."""
        if self._float_out is None:
            self._float_out = self.tools.run(self.float_mlir, [self.x_padded], self.num_outputs,
                                             "run float")[0][:len(self.x_eval)]
        return self._float_out

    def _expected_calibration_samples(self) -> int | None:
        """The calibration sample count, where known before loading: the
        calibration split of a named data set (capped by
        --calibration-limit); None otherwise."""
        config = self.config
        if config.calibration_data is not None:
            return None
        size = datasets.split_size(config.data, "calibration")
        if size is None:
            return None
        return min(size, config.calibration_limit) if config.calibration_limit else size

    def _prefetch_float(self) -> None:
        """Starts compiling the float program and the per-layer ones."""
        self.tools.prefetch(self.float_mlir, len(self.x_padded), priority=1)
        if not self.qdq and self.config.layer_samples > 0:
            self.layer_modules = LayerModules(self.tools, self.work, self.float_mlir, self.layer_run_samples())

    def layer_run_samples(self, layer_samples: int | None = None) -> int:
        """The samples (padded to batches) the per-layer programs run on."""
        samples = self.config.layer_samples if layer_samples is None else layer_samples
        count = layer_samples_count(len(self.x_eval), self.batch, samples)
        return -(-count // self.batch) * self.batch

    def base_report(self, options: str, recipe: Path | None) -> dict:
        config = self.config
        # models/<name>/model.onnx is named by its folder, any other file by
        # its own name.
        default_name = config.model.parent.name if config.model.stem == "model" else config.model.stem
        return {"model": str(config.model), "name": config.name or default_name,
                "data": config.data, "split": config.split, "samples": int(len(self.x_eval)),
                "calibration_samples": 0 if self.qdq else int(len(self.x_cal)),
                "recipe": str(recipe) if recipe else None, "options": options,
                "normalize": list(config.normalize) if config.normalize else None,
                "float_passes": config.float_passes or None,
                "float_weight_bytes": model_bytes(self.float_mlir.read_text())}

    def accuracy(self, float_out: np.ndarray, quant_out: np.ndarray) -> dict:
        """Top-1/top-5 of both, the drop, agreement and the output error."""
        report = {}
        classifier = float_out.ndim == 2 and self.config.task == "classification"
        if self.y_eval is not None and classifier:
            for prefix, out in (("float", float_out), ("quantized", quant_out)):
                report[f"{prefix}_top1"] = topk(out, self.y_eval, 1)
                report[f"{prefix}_top5"] = topk(out, self.y_eval, 5)
            report["top1_drop"] = report["float_top1"] - report["quantized_top1"]
            # The drop is a mean over samples of (float right) - (quantized
            # right): its standard error says how far another sample of the
            # same size could move it.
            paired = ((float_out.argmax(1) == self.y_eval).astype(np.float64)
                      - (quant_out.argmax(1) == self.y_eval))
            report["top1_drop_stderr"] = float(np.std(paired) / math.sqrt(len(paired)))
        if classifier:
            report["top1_agreement"] = float(np.mean(float_out.argmax(1) == quant_out.argmax(1)))
        report["output"] = compare(float_out, quant_out)
        return report

    def pipeline_options(self, options: str, recipe: Path | None) -> str:
        """qnn-quantize-pipeline's (and qnn-insert-qdq's) options."""
        pipeline = f"statistics={self.statistics}"
        if recipe:
            pipeline += f" recipe={recipe}"
        if options:
            pipeline += " " + options
        return pipeline

    def run(self, options: str = "", recipe: Path | None = None, layer_samples: int = 0,
            tag: str = "quantized") -> dict:
        """Quantizes with `options` and `recipe`, runs, and reports."""
        started = time.time()
        pipeline = self.pipeline_options(options, recipe)
        quantize = [f"--qnn-quantize-pipeline={pipeline}"]
        quantized = self.tools.opt(self.float_mlir, quantize, self.work / f"{tag}.mlir")
        self.tools.prefetch(quantized, len(self.x_padded))
        finish_per_layer = None
        if layer_samples > 0:
            layer_modules = getattr(self, "layer_modules", None) or LayerModules(
                self.tools, self.work, self.float_mlir, self.layer_run_samples(layer_samples))
            layer_modules.quantize(pipeline)
        # The float program runs (once) while those compile.
        float_out = self.float_out
        if layer_samples > 0:
            # The per-layer runs are short; the NumPy bit-exactness check
            # they start then overlaps the whole data set's run.
            finish_per_layer = per_layer(self.tools, layer_modules, self.x_eval, self.batch, layer_samples,
                                         self.model, self.details)
        quant_out = self.tools.run(quantized, [self.x_padded], self.num_outputs,
                                   f"run {tag}")[0][:len(self.x_eval)]
        # Kept for a caller that compares with another float program (the
        # sweep's rows on a rewritten float model).
        self.quant_out = quant_out
        report = self.base_report(options, recipe)
        report.update(self.accuracy(float_out, quant_out))
        qdq = self.tools.opt(self.float_mlir, ["--qnn-insert-observers", f"--qnn-insert-qdq={pipeline}",
                                               "--canonicalize"], self.work / f"{tag}.qdq.mlir")
        report["quantized_weight_bytes"] = model_bytes(qdq.read_text())
        if finish_per_layer is not None:
            report["layers"], report["bit_exactness"] = finish_per_layer(quant_out)
        report["seconds"] = round(time.time() - started, 1)
        return report


    def run_qdq(self) -> dict:
        """For a QDQ model: its integer program (fused by quant-opt) against
        its QDQ program simulated in float, and ONNX Runtime's execution of
        the same model."""
        import onnxruntime
        started = time.time()
        quantized = self.tools.opt(self.float_mlir, ["--canonicalize", "--qnn-fuse-quantized-ops",
                                                     "--canonicalize"], self.work / "quantized.mlir")
        self.tools.prefetch(quantized, len(self.x_padded))
        quant_out = self.tools.run(quantized, [self.x_padded], self.num_outputs,
                                   "run integer")[0][:len(self.x_eval)]
        session = onnxruntime.InferenceSession(str(self.config.model), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        peer = np.concatenate([session.run(None, {name: self.x_eval[i:i + self.batch]})[0]
                               for i in range(0, len(self.x_eval), self.batch)])
        report = self.base_report("", None)
        report["mode"] = "qdq"
        report.update(self.accuracy(self.float_out, quant_out))
        from .ort_quantize import onnxruntime_int8_is_exact
        report["onnxruntime"] = {"output": compare(peer, quant_out), "int8_exact": onnxruntime_int8_is_exact()}
        if peer.ndim == 2:
            report["onnxruntime"]["top1_agreement"] = float(np.mean(peer.argmax(1) == quant_out.argmax(1)))
            if self.y_eval is not None:
                report["onnxruntime"]["top1"] = topk(peer, self.y_eval, 1)
        report["quantized_weight_bytes"] = model_bytes(self.tools.opt(
            self.float_mlir, ["--canonicalize"], self.work / "qdq.mlir").read_text())
        report["seconds"] = round(time.time() - started, 1)
        return report


def evaluate(config: Config) -> dict:
    """The whole quant-eval run for one recipe (or, for a QDQ model, its own
    quantization)."""
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(config.keep) if config.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        evaluation = Evaluation(config, work)
        if evaluation.qdq and (config.options or config.recipe):
            raise EvaluationError(f"{config.model} is already quantized (QuantizeLinear / DequantizeLinear, "
                                  "QOperator or DynamicQuantizeLinear ops): "
                                  "--options and --recipe do not apply to it")
        evaluation.prepare()
        report = (evaluation.run_qdq() if evaluation.qdq
                  else evaluation.run(config.options, config.recipe, config.layer_samples))
        if config.fallback_sqnr is not None and not evaluation.qdq:
            report = fallback_16bit(evaluation, report, config, work)
    report["seconds"] = round(time.time() - started, 1)
    return report


FALLBACK_ACTIVATIONS = {"bits": 16, "signed": True, "symmetric": True}


def fallback_16bit(evaluation: "Evaluation", report: dict, config: Config, work: Path) -> dict:
    """The automatic 16-bit fallback: the activations whose local SQNR in
    `report`'s per-layer table is below config.fallback_sqnr dB get 16-bit
    symmetric storage (a recipe rule each, after the user's recipe), and the
    model is quantized and evaluated again. The report says which, and what
    the first run gave."""
    if not report.get("layers"):
        raise EvaluationError("the 16-bit fallback needs the per-layer table (--layer-samples > 0)")
    float_text = evaluation.float_mlir.read_text()
    # Ids of layers (op locations); model inputs have no rule of their own.
    chosen = [layer["id"] for layer in report["layers"]
              if layer["local"]["sqnr_db"] < config.fallback_sqnr and f'"{layer["id"]}"' in float_text]
    first = {key: report.get(key) for key in ("quantized_top1", "top1_drop", "output", "quantized_weight_bytes")}
    summary = {"threshold_db": config.fallback_sqnr, "layers": chosen, "before": first}
    if not chosen:  # The first run stands (a new report: the caller may keep both).
        return dict(report, fallback_16bit=summary)
    recipe = (json.loads(config.recipe.read_text()) if config.recipe
              else {"format": "quant-opt-recipe", "version": 1})
    recipe["layers"] = list(recipe.get("layers", [])) + [
        {"id": id_, "activations": dict(FALLBACK_ACTIVATIONS)} for id_ in chosen]
    path = work / "fallback-recipe.json"
    path.write_text(json.dumps(recipe, indent=2) + "\n")
    evaluation.log(f"16-bit fallback for {len(chosen)} activation(s) below {config.fallback_sqnr} dB: "
                   + ", ".join(chosen))
    again = evaluation.run(config.options, path, config.layer_samples, tag="fallback")
    again["recipe"] = str(config.recipe) if config.recipe else None
    again["fallback_16bit"] = summary
    return again


def layer_samples_count(available: int, batch: int, samples: int) -> int:
    """The samples the per-layer error is computed on: `samples` rounded
    down to whole batches (at least one), at most those available."""
    return min(available, max(batch, samples - samples % batch))


class LayerModules:
    """The programs of the per-layer error: the float program with its
    activations exposed as results, the same cut at each activation (each
    layer fed from arguments) and, once quantize() is called, the quantized
    program with its activations exposed. Each starts compiling (prefetch)
    as soon as it is written."""

    def __init__(self, tools: "Tools | InProcessTools", work: Path, float_mlir: Path, samples: int):
        self.tools, self.work, self.samples = tools, work, samples
        self.exposed = tools.opt(float_mlir, ["--qnn-expose-activations"], work / "exposed.mlir")
        tools.prefetch(self.exposed, samples, priority=2)
        self.cut = tools.opt(float_mlir, ["--qnn-expose-activations=cut=true"], work / "exposed_cut.mlir")
        tools.prefetch(self.cut, samples, priority=2)
        self.ids = exposed_ids(self.exposed.read_text())

    def quantize(self, pipeline: str) -> None:
        self.parameters = self.work / "parameters.json"
        self.quantized = self.tools.opt(
            self.exposed, [f"--qnn-quantize-pipeline={pipeline} parameters={self.parameters}"],
            self.work / "exposed_quantized.mlir")
        self.tools.prefetch(self.quantized, self.samples, priority=1)


def per_layer(tools: "Tools | InProcessTools", modules: LayerModules, x_eval: np.ndarray,
              batch: int, samples: int, model: onnx.ModelProto, details: dict):
    """Each activation of the quantized program against the float one, and
    the bit-exactness of its fused layers (quant_opt.bitexact). Runs the
    exposed programs and starts the bit-exactness check on another thread
    (NumPy lets go of the GIL); returns `finish(quant_out)`, which checks
    that exposing the activations left the program's output `quant_out`
    unchanged, computes the errors and returns `(layers, exactness)`."""
    count = layer_samples_count(len(x_eval), batch, samples)
    x = pad_to_batches(x_eval[:count], batch)
    exposed, cut, quantized, parameters = modules.exposed, modules.cut, modules.quantized, modules.parameters
    ids = modules.ids
    num_original = len(model.graph.output)
    total = num_original + len(ids)
    float_acts = tools.run(exposed, [x], total, "per-layer: float")
    quant_acts = tools.run(quantized, [x], total, "per-layer: quantized")
    segments, members = node_segments(model, ids)
    activations = {id_: quant_acts[num_original + k][:count] for k, id_ in enumerate(ids)}
    # Whole program calls, for the per-tensor scales of dynamic layers.
    covering = -(-count // batch)
    calls = {id_: (quant_acts[num_original + k][:len(quant_acts[num_original + k]) * covering
                                               // (len(x) // batch)], covering)
             for k, id_ in enumerate(ids)}
    checker = concurrent.futures.ThreadPoolExecutor(1)
    exactness = checker.submit(check_layers, details, json.loads(parameters.read_text()), members,
                               activations, calls, workers=available_cpus())
    checker.shutdown(wait=False)

    def finish(quant_out: np.ndarray) -> tuple[list[dict], dict]:
        if not np.array_equal(quant_acts[0][:count], quant_out[:count]):
            raise EvaluationError("internal: exposing the activations changed the quantized program's "
                                  "output; per-layer errors would not describe it")
        layers = local_errors(tools, cut, x, quant_acts, float_acts, ids, segments, num_original, total,
                              count)
        result = exactness.result()
        result["samples"] = count
        return layers, result

    return finish


def local_errors(tools, cut: Path, x: np.ndarray, quant_acts: list, float_acts: list, ids: list[str],
                 segments: dict, num_original: int, total: int, count: int) -> list[dict]:
    """Each activation's error: local (the cut program, each layer fed the
    quantized program's inputs) and propagated, worst local SQNR first."""
    local_acts = tools.run(cut, [x] + quant_acts[num_original:], total, "per-layer: local")
    layers = []
    for k, id_ in enumerate(ids):
        f = float_acts[num_original + k][:count]
        # In float64 once for both comparisons.
        q = np.asarray(quant_acts[num_original + k][:count], dtype=np.float64)
        l = local_acts[num_original + k][:count]
        layers.append({"id": id_, "ops": segments.get(id_, ""), "shape": list(f.shape[1:]),
                       "propagated": compare(f, q), "local": compare(l, q)})
    layers.sort(key=lambda layer: layer["local"]["sqnr_db"])
    return layers


_TENSOR_CONSTANT = re.compile(
    r"= (arith|qnn)\.constant (?:dense|dense_resource)<[^>\n]*> : tensor<([0-9x]*)(u?i\d+|f32)>"
    r"(?: -> tensor<[^{\n]*(?:\{([^}\n]*)\})?)?")


def model_bytes(module_text: str) -> int:
    """The size of a model's parameters as the QDQ program holds them (after
    qnn-insert-qdq and canonicalization): quantized weights at their storage
    width (sub-byte packed), each scale at 4 bytes and each zero point at the
    storage width, float tensors (biases, weights left in float) at 4."""
    total_bits = 0
    for dialect, shape, element, params in _TENSOR_CONSTANT.findall(module_text):
        dims = [int(d) for d in shape.split("x") if d]
        size = int(np.prod(dims)) if dims else 1
        bits = 32 if element == "f32" else int(element.lstrip("ui"))
        total_bits += size * bits
        if dialect == "qnn" and params:
            for entry in params.split(","):
                total_bits += 32 + (bits if ":" in entry else 0)
    return (total_bits + 7) // 8


# --- output -------------------------------------------------------------


def _fmt(value, digits=2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}f}"
    return str(value)


def markdown(report: dict, max_layers: int = 15) -> str:
    lines = [f"## {report['name']}: quant-eval on {report['data']} ({report['samples']} samples)", ""]
    qdq = report.get("mode") == "qdq"
    if qdq:
        lines.append(f"Model `{report['model']}` is already quantized (QuantizeLinear / DequantizeLinear, "
                     "QOperator or DynamicQuantizeLinear ops): "
                     "*float* is its QDQ program simulated in float, *quantized* the integer program "
                     "quant-opt fuses from it (no calibration, no recipe).")
    else:
        lines.append(f"Model `{report['model']}`, calibrated on {report['calibration_samples']} samples; "
                     f"options `{report['options'] or 'defaults'}`"
                     + (f", recipe `{report['recipe']}`" if report.get("recipe") else "")
                     + (f"; the float model rewritten by `{report['float_passes']}` first (*float* is the "
                        "rewritten model)" if report.get("float_passes") else "") + ".")
    lines.append("")
    lines.append("| | float | quantized | difference |")
    lines.append("|---|---|---|---|")
    if "float_top1" in report:
        lines.append(f"| top-1 (%) | {100 * report['float_top1']:.2f} | {100 * report['quantized_top1']:.2f} "
                     f"| {-100 * report['top1_drop']:+.2f} |")
        lines.append(f"| top-5 (%) | {100 * report['float_top5']:.2f} | {100 * report['quantized_top5']:.2f} "
                     f"| {100 * (report['quantized_top5'] - report['float_top5']):+.2f} |")
    lines.append(f"| weights (bytes) | {report['float_weight_bytes']} | {report['quantized_weight_bytes']} | "
                 f"{report['quantized_weight_bytes'] / max(report['float_weight_bytes'], 1):.2f}x |")
    out = report["output"]
    lines.append("")
    agreement = report.get("top1_agreement")
    lines.append(("" if agreement is None else f"Output: top-1 agreement {100 * agreement:.2f}%, ")
                 + ("" if agreement is not None else "Output: ")
                 + f"MSE {out['mse']:.3g}, SQNR {_fmt(out['sqnr_db'], 1)} dB, "
                 f"max |error| {out['max_abs_error']:.3g}, cosine {out['cosine']:.5f} "
                 f"(per sample, mean {out['sample_cosine']:.5f}).")
    peer = report.get("onnxruntime")
    if peer:
        agreement = peer.get("top1_agreement")
        lines += ["", "ONNX Runtime on the same QDQ model"
                  + (f": top-1 {100 * peer['top1']:.2f}%" if "top1" in peer else "")
                  + (f", top-1 agreement with quant-opt's integer program {100 * agreement:.2f}%"
                     if agreement is not None else "")
                  + f", SQNR of quant-opt's output against it {_fmt(peer['output']['sqnr_db'], 1)} dB, "
                  f"max |difference| {peer['output']['max_abs_error']:.3g}."]
        if peer.get("int8_exact") is False:
            from .ort_quantize import INEXACT_INT8_NOTE
            lines += ["", INEXACT_INT8_NOTE]
        if not report.get("layers"):
            lines += ["", "Per-layer error and bit-exactness are computed for float models that "
                      "quant-eval quantizes itself; not for QDQ models."]
    fallback = report.get("fallback_16bit")
    if fallback:
        before = fallback["before"]
        chosen = fallback["layers"]
        lines += ["", f"16-bit fallback (activations with local SQNR below {fallback['threshold_db']:g} dB "
                  "in the first run's per-layer table): "
                  + (f"{len(chosen)} activation(s) at 16 bits: " + ", ".join(f"`{c}`" for c in chosen)
                     + f"; the first run (all at the recipe's bits) gave SQNR "
                     f"{_fmt(before['output']['sqnr_db'], 1)} dB, sample cosine "
                     f"{before['output']['sample_cosine']:.5f}"
                     + (f", top-1 drop {100 * before['top1_drop']:.2f} points"
                        if before.get("top1_drop") is not None else "")
                     + f", weights {before['quantized_weight_bytes']} bytes; the numbers above are "
                     "with the fallback." if chosen else "none needed.")]
    exact = report.get("bit_exactness")
    if exact:
        lines += ["", f"Bit-exactness of the lowered integer program against the NumPy integer "
                  f"reference (docs/Semantics.md), on {exact['samples']} samples: "
                  f"{exact['layers_checked']} fused layers, {exact['elements']} output elements, "
                  f"**{exact['mismatches']} mismatching**"
                  + ("; not checked: " + ", ".join(f"`{u['layer']}` ({u['reason']})"
                                                    for u in exact["not_checked"])
                     if exact["not_checked"] else "") + "."]
    if report.get("layers"):
        layers = report["layers"]
        lines += ["", f"Per-layer error, worst first by local SQNR ({len(layers)} activations; "
                  f"{min(max_layers, len(layers))} shown): *local* is the layer alone, fed the quantized "
                  "program's inputs; *propagated* includes everything before it.", "",
                  "| activation | ops | local SQNR (dB) | local cosine | propagated SQNR (dB) | propagated MSE |",
                  "|---|---|---|---|---|---|"]
        for layer in layers[:max_layers]:
            lines.append(f"| `{layer['id']}` | {layer['ops']} | {_fmt(layer['local']['sqnr_db'], 1)} | "
                         f"{layer['local']['cosine']:.5f} | {_fmt(layer['propagated']['sqnr_db'], 1)} | "
                         f"{layer['propagated']['mse']:.3g} |")
    return "\n".join(lines) + "\n"


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value)} as JSON")


def _finite(value):
    """JSON has no infinities: write them as strings."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_report(report: dict, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.json").write_text(json.dumps(_finite(report), indent=2, default=_json_default) + "\n")
    (output / "report.md").write_text(markdown(report))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True,
                        help="evaluation data: fashion-mnist, digits, or an .npz with x (and y)")
    parser.add_argument("--split", default="test", help="split of a named data set (default: test)")
    parser.add_argument("--calibration-data",
                        help="calibration data (default: the 'calibration' split of --data)")
    parser.add_argument("--batch", type=int, default=100, help="samples per call (default: 100)")
    parser.add_argument("--limit", type=int, help="evaluate the first N samples only")
    parser.add_argument("--calibration-limit", type=int, help="calibrate on the first N samples only")
    parser.add_argument("--layer-samples", type=int, default=200,
                        help="samples for the per-layer error (0: skip it; default: 200)")
    parser.add_argument("--float-passes", default="", metavar="PASSES",
                        help="quant-opt passes applied to the imported float model first, space-separated, each NAME or "
                             "NAME{OPTION=VALUE ...} "
                             "(e.g. 'qnn-equalize-cross-layer' for per-tensor weights); the float program "
                             "reported is the rewritten one")
    parser.add_argument("--normalize", type=parse_normalize, metavar="MEAN,STD",
                        help="inputs become (x - MEAN) / STD, for models trained on normalized "
                             "images (torchvision's Normalize; e.g. 0.2860,0.3530 for Fashion-MNIST); "
                             "applied to evaluation and calibration data")


def parse_normalize(text: str) -> tuple[float, float]:
    """--normalize MEAN,STD, with STD > 0."""
    try:
        mean, std = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MEAN,STD (two numbers), got '{text}'") from None
    if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
        raise argparse.ArgumentTypeError(f"expected a finite MEAN and STD > 0, got '{text}'")
    return mean, std


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="quant-eval", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the float ONNX model")
    add_arguments(parser)
    parser.add_argument("--recipe", type=Path, help="per-layer recipe JSON (docs/Quantization.md)")
    parser.add_argument("--options", default="",
                        help='qnn-quantize-pipeline options, e.g. "weight-granularity=per_tensor '
                             'activation-method=entropy"')
    parser.add_argument("-o", "--output", type=Path, help="directory for report.json and report.md")
    parser.add_argument("--keep", type=Path, help="keep the intermediate files in this directory")
    parser.add_argument("--task", choices=("classification", "embedding"), default="classification",
                        help="what the output is: logits (default) or embeddings (no top-1)")
    parser.add_argument("--fallback-16bit-below", type=float, metavar="DB", dest="fallback_sqnr",
                        help="automatic 16-bit fallback: activations whose local SQNR in the per-layer "
                             "table is below DB get 16-bit storage, and the model is evaluated again")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    if args.recipe and not args.recipe.is_file():
        print(f"quant-eval: error: recipe '{args.recipe}' does not exist", file=sys.stderr)
        return 1
    config = Config(model=args.model, data=args.data, calibration_data=args.calibration_data,
                    split=args.split, recipe=args.recipe, options=args.options, batch=args.batch,
                    limit=args.limit, calibration_limit=args.calibration_limit,
                    layer_samples=args.layer_samples, verbose=not args.quiet, keep=args.keep, task=args.task,
                    normalize=args.normalize, float_passes=args.float_passes,
                    fallback_sqnr=args.fallback_sqnr)
    try:
        report = evaluate(config)
        if args.output:
            write_report(report, args.output)
    except (EvaluationError, OSError) as error:  # OSError: a missing tool or file
        print(f"quant-eval: error: {error}", file=sys.stderr)
        return 1
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
