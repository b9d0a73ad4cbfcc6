"""quant_opt.native (the extension _quant_opt, in process) against the tools
it replaces in-process: the same module text as quant-opt, the same bits as
quant-run, the same statistics as quant-run --calibrate; its errors; and the
package as `pip install ./python` installs it, quantizing and running a
bundled model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from quant_opt import native
from quant_opt.execution import find_tool

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "test" / "Pipelines" / "quantize-pipeline.mlir"
STATS = ROOT / "test" / "Pipelines" / "Inputs" / "cnn-stats.json"

pytestmark = pytest.mark.skipif(not native.available(),
                                reason="the extension _quant_opt is not built")


def images(count, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (count, 4, 4, 2)).astype(np.float32)


def test_opt_prints_what_quant_opt_prints():
    flags = [f"--qnn-quantize-pipeline=statistics={STATS}"]
    # quant-opt reads it from stdin, which it names "<stdin>" in locations.
    tool = subprocess.run([find_tool("quant-opt"), "-", *flags, "--mlir-print-debuginfo"],
                          input=MODEL.read_text(), check=True, capture_output=True,
                          text=True).stdout
    assert native.opt(MODEL.read_text(), flags, source_name="<stdin>") == tool
    # The same as a textual pipeline.
    assert native.pipeline_from_flags(flags + ["--canonicalize"]) == \
        f"qnn-quantize-pipeline{{statistics={STATS}}},canonicalize"


def test_program_gives_quant_runs_bits(tmp_path):
    quantized = native.opt(MODEL.read_text(), [f"--qnn-quantize-pipeline=statistics={STATS}"])
    (tmp_path / "q.mlir").write_text(quantized)
    xs = images(8)
    np.save(tmp_path / "x.npy", xs)
    subprocess.run([find_tool("quant-run"), str(tmp_path / "q.mlir"), "-f", "cnn", "-i",
                    str(tmp_path / "x.npy"), "--dataset", "-o", str(tmp_path / "y.npy")], check=True,
                   capture_output=True)
    want = np.load(tmp_path / "y.npy")
    program = native.compile(quantized, "cnn")
    got = program.run_dataset([xs])[0]
    assert got.dtype == want.dtype == np.float32 and got.shape == (8, 3)
    assert np.array_equal(got, want)
    assert len(np.unique(want)) > 8  # outputs that can differ
    # One call, and the scalar reference pipeline: the same bits.
    assert np.array_equal(program(xs[3:4])[0], want[3:4])
    assert np.array_equal(native.compile(quantized, "cnn", reference=True)(xs[3:4])[0], want[3:4])


def test_calibrate_writes_quant_runs_statistics(tmp_path):
    instrumented = native.opt(MODEL.read_text(), ["--qnn-insert-observers"])
    (tmp_path / "i.mlir").write_text(instrumented)
    xs = images(16, seed=1)
    np.save(tmp_path / "x.npy", xs)
    subprocess.run([find_tool("quant-run"), str(tmp_path / "i.mlir"), "-f", "cnn", "-i",
                    str(tmp_path / "x.npy"), "--calibrate", str(tmp_path / "tool.json"),
                    "--bins", "64"], check=True, capture_output=True)
    program = native.compile(instrumented, "cnn")
    assert program.observer_ids == ["input", "conv1", "dw", "flatten", "fc"]
    program.calibrate([xs], str(tmp_path / "native.json"), bins=64)
    tool = json.loads((tmp_path / "tool.json").read_text())
    assert json.loads((tmp_path / "native.json").read_text()) == tool
    assert tool["tensors"]["conv1"]["count"] == 16 * 4 * 4 * 2


NEGATE = """
func.func @f(%x: tensor<4x20001xf32>) -> tensor<4x20001xf32> {
  %e = tensor.empty() : tensor<4x20001xf32>
  %y = linalg.negf ins(%x : tensor<4x20001xf32>) outs(%e : tensor<4x20001xf32>) -> tensor<4x20001xf32>
  return %y : tensor<4x20001xf32>
}
"""


def calibration_statistics(values, bins):
    """docs/Calibration.md's statistics of `values` seen in this order,
    computed here: NaN skipped; min and max, of equal values (0 and -0) the
    first; bin i of [lo + i*w, lo + (i+1)*w), w = (hi - lo) / bins, in
    double, max in the last bin."""
    v = values[~np.isnan(values)]
    lo, hi = v[v == v.min()][0], v[v == v.max()][0]
    width = (np.float64(hi) - np.float64(lo)) / bins
    index = np.clip(np.floor((v.astype(np.float64) - np.float64(lo)) / width), 0, bins - 1)
    return float(lo), float(hi), v.size, np.bincount(index.astype(np.int64), minlength=bins).tolist()


def test_calibration_statistics_of_long_tensors(tmp_path):
    """Tensors long enough for the runner's vectorized statistics (lanes,
    chunks, histograms counted in several copies) and with a tail that
    leaves them: NaN skipped, the sign of a zero range end that of the first
    zero seen (here -0 for the input, +0 for its negation), values on bin
    edges and at the maximum in their bins; as computed here from the
    definition."""
    import math
    program = native.compile(native.opt(NEGATE, ["--qnn-insert-observers"]), "f")
    rng = np.random.default_rng(3)
    bins = 2048
    x = np.abs(rng.normal(0, 1, (3 * 4, 20001))).astype(np.float32)
    hi = np.float32(x.max())
    edges = (np.arange(0, bins + 1) * (np.float64(hi) / bins)).astype(np.float32)
    x[1, :bins + 1] = edges  # on (or within a rounding of) every bin edge
    x[0, 17] = -0.0  # the first zero: pass 1 keeps it, not the +0 after it
    x[0, 32], x[5, 3], x[11, 20000] = 0.0, 0.0, -0.0  # x[0, 32]: a lane before -0's
    x[2, 5:25] = np.nan
    x[7, 19990:] = np.nan  # in the tail of a batch
    x[4, ::7] = 0.0  # runs of one bin, as after a ReLU
    # 16384 bins: fewer than 8 values per bin, counted without the copies.
    for bins in (bins, 16384):
        program.calibrate([x], str(tmp_path / "s.json"), bins=bins)
        # "-0" is an integer to json, which has no -0: read as a float.
        tensors = json.loads((tmp_path / "s.json").read_text(), parse_int=float)["tensors"]
        for name, values in (("f.arg0", x), ("linalg.negf@3:8", -x)):
            got = tensors[[key for key in tensors if key.startswith(name.split("@")[0])][0]]
            lo, hi, count, histogram = calibration_statistics(values.ravel(), bins)
            assert (got["min"], got["max"], got["count"]) == (lo, hi, count), name
            assert math.copysign(1, got["min"]) == math.copysign(1, lo), name
            assert math.copysign(1, got["max"]) == math.copysign(1, hi), name
            assert got["histogram"]["bins"] == histogram, name
        assert math.copysign(1, tensors["f.arg0"]["min"]) == -1  # the first zero, -0


def test_threads_and_optimization_level_do_not_change_results(tmp_path):
    """Batches on several threads (in any order) and LLVM -O0 give the bits
    and statistics of one thread at -O3; the compile and the runs release
    the GIL, so Python threads can compile and run at once."""
    import concurrent.futures
    quantized = native.opt(MODEL.read_text(), [f"--qnn-quantize-pipeline=statistics={STATS}"])
    xs = images(12, seed=2)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        o3, o0 = pool.map(lambda level: native.compile(quantized, "cnn", opt_level=level), (3, 0))
    # Verified once after the lowering instead of after each pass: the same
    # program.
    unverified = native.compile(quantized, "cnn", opt_level=0, verify_each=False)
    want = o3.run_dataset([xs])[0]
    assert len(np.unique(want)) > 12
    for program in (o3, o0, unverified):
        for parallel in (1, 3, 12):
            assert np.array_equal(program.run_dataset([xs], parallel_batches=parallel)[0], want)
    instrumented = native.compile(native.opt(MODEL.read_text(), ["--qnn-insert-observers"]), "cnn")
    instrumented.calibrate([xs], str(tmp_path / "one.json"), bins=64)
    instrumented.calibrate([xs], str(tmp_path / "four.json"), bins=64, parallel_batches=4)
    assert (tmp_path / "one.json").read_text() == (tmp_path / "four.json").read_text()
    with pytest.raises(ValueError, match="parallel_batches must be from 1 to 1024, got 0"):
        o3.run_dataset([xs], parallel_batches=0)
    with pytest.raises(RuntimeError, match="optimization level 4 is not one of 0, 1, 2, 3"):
        native.compile(quantized, "cnn", opt_level=4)


def test_reference_pipeline_runs_strided_copies_in_process():
    """A padded input is a copy into a strided view; the reference pipeline
    left it to memref.copy, whose memrefCopy (MLIR's runner library) an
    in-process program does not link ("Symbols not found: [ memrefCopy ]")."""
    text = """
func.func @pad(%x: tensor<1x3x3x2xf32>) -> tensor<1x5x5x2xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x3x3x2xf32> to tensor<1x5x5x2xf32>
  return %p : tensor<1x5x5x2xf32>
}"""
    x = np.arange(18, dtype=np.float32).reshape(1, 3, 3, 2)
    want = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    for reference in (False, True):
        assert np.array_equal(native.compile(text, "pad", reference=reference)(x)[0], want)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="'no-such-pass' does not refer to a registered pass"):
        native.opt(MODEL.read_text(), "no-such-pass")
    with pytest.raises(ValueError, match="not a pass flag"):
        native.opt(MODEL.read_text(), ["canonicalize"])
    with pytest.raises(RuntimeError, match="cannot parse the module"):
        native.compile("func.func @f(", "f")
    with pytest.raises(RuntimeError, match="no function @missing"):
        native.compile(MODEL.read_text(), "missing")
    program = native.compile(MODEL.read_text(), "cnn")
    with pytest.raises(RuntimeError, match=r"expects tensor<1x4x4x2xf32>.*shape \(2, 2\)"):
        program(np.zeros((2, 2), np.float32))
    with pytest.raises(RuntimeError, match="no qnn.observe to calibrate"):
        program.calibrate([images(2)], "/dev/null")
    # An empty data set (was SIGFPE, a division by its zero batches), and a
    # histogram of no bins (was a statistics file no quantizer reads).
    with pytest.raises(RuntimeError, match="holds no samples: an empty data set has no results"):
        program.run_dataset([images(2)[:0]])
    instrumented = native.compile(native.opt(MODEL.read_text(), ["--qnn-insert-observers"]), "cnn")
    with pytest.raises(ValueError, match="bins must be from 1 to 1048576, got 0"):
        instrumented.calibrate([images(2)], "/dev/null", bins=0)
    # One array where a list of them is expected (read as one data set per
    # row, it said "@cnn takes 1 arguments, 2 data sets were given").
    with pytest.raises(ValueError, match="not one array: pass \\[x\\]"):
        program.run_dataset(images(2))
    with pytest.raises(ValueError, match="batch must be a positive integer, not 0"):
        native.quantize_onnx(ROOT / "models" / "fashion-cnn" / "model.onnx", images(2), batch=0)


def test_pip_installed_package_quantizes_and_runs_a_bundled_model(tmp_path):
    """`pip install ./python` (into a target directory), then a new
    interpreter that sees only that copy of quant_opt (and the project's
    environment for numpy and onnx): quantize_onnx on fashion-cnn, run."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--disable-pip-version-check", "--target", str(tmp_path / "site"),
                    str(ROOT / "python")], check=True, capture_output=True)
    assert list((tmp_path / "site" / "quant_opt").glob("_quant_opt*.so"))
    script = f"""
import numpy as np, quant_opt
from quant_opt import datasets, native
assert native._load().__file__.startswith({str(tmp_path / 'site')!r}), native._load().__file__
x, y = datasets.load("fashion-mnist", "test")
text = quant_opt.quantize_onnx({str(ROOT / 'models' / 'fashion-cnn' / 'model.onnx')!r}, x[:128], batch=64)
logits, = quant_opt.compile(text).run_dataset([x[:512]])
print("top-1", (logits.argmax(1) == y[:512]).mean())
"""
    environment = {k: v for k, v in os.environ.items() if k != "QUANT_OPT_BUILD_DIR"}
    environment["PYTHONPATH"] = str(tmp_path / "site")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environment,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    top1 = float(result.stdout.split()[-1])
    assert top1 > 0.85, result.stdout


def test_profile_times_each_layer():
    """profile=True: the same results, and each layer's (name, seconds,
    entries) over the calls since compiling or the last reset."""
    plain = native.compile(MODEL.read_text(), "cnn")
    program = native.compile(MODEL.read_text(), "cnn", profile=True)
    x = images(1)
    assert np.array_equal(program(x)[0], plain(x)[0])
    once = program.layer_profile()
    assert "conv1" in [name for name, _, _ in once]
    assert all(seconds >= 0 and entries >= 1 for _, seconds, entries in once)
    program(x)
    assert [entries for _, _, entries in program.layer_profile()] == [2 * e for _, _, e in once]
    program.reset_layer_profile()
    assert all(seconds == 0 and entries == 0 for _, seconds, entries in program.layer_profile())
    assert plain.layer_profile() == []
    with pytest.raises(ValueError, match="a profiled program runs one batch at a time"):
        program.run_dataset([images(4)], parallel_batches=2)
    with pytest.raises(RuntimeError, match="profiling times the CPU pipeline's code"):
        native.compile(MODEL.read_text(), "cnn", reference=True, profile=True)
