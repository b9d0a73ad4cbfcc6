"""quant-opt in process: pass pipelines and compiled programs without a
subprocess or a file per call.

    from quant_opt import native
    quantized = native.opt(float_text, ["--qnn-quantize-pipeline=statistics=s.json"])
    program = native.compile(quantized, "main")   # JIT-compiled once
    y, = program(x)                                # NumPy in, NumPy out
    ys = program.run_dataset([xs])                 # batches along xs's first axis
    native.compile(instrumented, "main").calibrate([xs], "stats.json")

It wraps the extension `_quant_opt` (lib/Bindings/Python), found as
`$QUANT_OPT_BUILD_DIR/python/_quant_opt*.so` when that variable is set,
else in the source tree's build/python, else next to this package (a pip
install of python/ copies it there). `available()` says whether it was
found; quant-eval falls back to the quant-opt / quant-run tools without it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from pathlib import Path

_module = None


class NativeNotFoundError(ImportError):
    """The extension is not built (or not where this package looks)."""


def _candidates() -> list[Path]:
    build = os.environ.get("QUANT_OPT_BUILD_DIR")
    if build:
        # An explicit choice: nowhere else.
        return [Path(build) / "python"]
    here = Path(__file__).resolve().parent
    return [here.parents[1] / "build" / "python", here]


def _load():
    global _module
    if _module is not None:
        return _module
    for directory in _candidates():
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = directory / f"_quant_opt{suffix}"
            if path.is_file():
                spec = importlib.util.spec_from_file_location("_quant_opt", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                _module = module
                return module
    raise NativeNotFoundError(
        "the quant-opt Python extension _quant_opt is not built (looked in "
        + ", ".join(str(d) for d in _candidates())
        + "): run scripts/setup.sh, or set QUANT_OPT_BUILD_DIR to a build directory")


def available() -> bool:
    """Whether the extension can be loaded."""
    try:
        _load()
        return True
    except NativeNotFoundError:
        return False


def keep_freed_memory_for_reuse() -> None:
    """Makes this process keep the memory it frees (glibc mallopt), as
    quant-run does: compiled programs malloc their intermediate tensors on
    every call, and returning large blocks to the OS makes each call
    page-fault them in again. Process-wide: for scripts that run programs
    many times, not done on import."""
    _load().keep_freed_memory_for_reuse()


def pipeline_from_flags(flags) -> str:
    """quant-opt command-line pass flags ("--canonicalize",
    "--qnn-insert-qdq=statistics=s.json recipe=r.json") as a textual pass
    pipeline ("canonicalize,qnn-insert-qdq{statistics=s.json recipe=r.json}");
    a string is taken as a pipeline already."""
    if isinstance(flags, str):
        return flags
    passes = []
    for flag in flags:
        if not flag.startswith("--"):
            raise ValueError(f"'{flag}' is not a pass flag (--name or --name=options)")
        name, _, options = flag[2:].partition("=")
        passes.append(f"{name}{{{options}}}" if options else name)
    return ",".join(passes)


def opt(module_text: str, passes, source_name: str = "-") -> str:
    """Runs passes (a textual pipeline, or quant-opt's flags as a list) on
    module text (named `source_name` in its locations), as
    `quant-opt --mlir-print-debuginfo` would print it. Raises ValueError
    for a bad pipeline, RuntimeError with MLIR's diagnostics if a pass
    fails."""
    return _load().run_pipeline(module_text, pipeline_from_flags(passes), source_name)


def compile(module_text: str, function: str = "main", reference: bool = False,
            cpu: str = "", features: str = "", threads: int = 1, opt_level: int = 3,
            verify_each: bool = True, profile: bool = False):
    """Compiles @function of module text (any stage quant-run takes) for
    this CPU, through qnn-cpu-pipeline (`reference`: the scalar one); `cpu`
    and `features` choose another target this CPU can run, `threads` the
    micro-kernels' threads, `opt_level` LLVM's optimization level (0-3:
    the same results; lower compiles faster and runs slower),
    `verify_each` whether the IR is verified after each pass of the lowering
    as mlir-opt does (False: once, after the lowering: faster, and a
    pass that broke the IR is not named). The program
    is called on NumPy arrays and returns a list of them;
    `run_dataset(datasets, parallel_batches=1)` runs batches along the
    arrays' first axis, that many at a time;
    `calibrate(datasets, path, bins=2048, ranges="", parallel_batches=1)`
    writes the statistics of an instrumented function. `profile` times each
    layer (the ops an op location names, as `quant-run --profile`):
    `layer_profile()` lists (name, seconds, entries) over the calls so far,
    `reset_layer_profile()` starts again. The compile and the
    runs release the GIL: other Python threads go on meanwhile."""
    return _load().Program(module_text, function, reference, cpu, features, threads, opt_level,
                           verify_each, profile)


def quantize_onnx(model, calibration_data, recipe=None, batch: int = 1,
                  options: str = "", bins: int = 2048) -> str:
    """Post-training quantization of an ONNX model in one call, in the shape
    of ONNX Runtime's quantize_static: `model` (a path or a ModelProto) is
    imported with its batch dimension fixed to `batch`, calibrated on
    `calibration_data` (samples along the first axis, a multiple of
    `batch`), and quantized with qnn-quantize-pipeline (`recipe`: a recipe
    JSON path, docs/Quantization.md; `options`: more pipeline options, e.g.
    "activation-method=mse weight-bits=4"). Returns the quantized module's
    text; `compile(text)` runs its @main on batches of `batch`."""
    import tempfile

    import numpy as np
    import onnx

    from .onnx_import import import_model

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, not {batch!r}")
    data = np.ascontiguousarray(calibration_data, dtype=np.float32)
    if data.ndim == 0 or len(data) % batch:
        raise ValueError(f"calibration data of shape {data.shape} is not batches of {batch} "
                         "samples along its first axis")
    float_text = import_model(model, batch)
    instrumented = opt(float_text, ["--qnn-insert-observers"])
    with tempfile.TemporaryDirectory() as work:
        statistics = f"{work}/statistics.json"
        compile(instrumented).calibrate([data], statistics, bins)
        pipeline = f"statistics={statistics}"
        if recipe is not None:
            pipeline += f" recipe={recipe}"
        if options:
            pipeline += f" {options}"
        return opt(float_text, [f"--qnn-quantize-pipeline={pipeline}"])
