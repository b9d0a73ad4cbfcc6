"""Tests of the GPU path that need no GPU (docs/GPU.md): quant-aot
--device=cuda (objects with the kernels embedded, linked with quant-opt's
CUDA runtime), the runtime's coverage of what MLIR 22's lowering calls, and
the device check's preparation (scripts/gpu-device-check). What only a GPU
can show (the programs' results) is run-on-device.sh's job."""

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from quant_opt import aot
from quant_opt.execution import ToolNotFoundError, find_tool

ROOT = Path(__file__).resolve().parents[2]
SCALE = ROOT / "test" / "tools" / "Inputs" / "cuda-scale.mlir"
CHECK_DIR = ROOT / "scripts" / "gpu-device-check"


def _build_dir() -> Path:
    return Path(find_tool("quant-run")).resolve().parents[1]


def _runtime() -> Path:
    return _build_dir() / "lib" / "libquant_opt_cuda_runtime.so"


def _have_driver() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


try:
    _tools = find_tool("quant-opt") and find_tool("quant-run")
except ToolNotFoundError:
    _tools = None
pytestmark = pytest.mark.skipif(
    _tools is None or shutil.which("cc") is None or not (aot.LLVM_BIN / "llc").exists()
    or not _runtime().exists(),
    reason="needs quant-opt and quant-run built with the CUDA runtime (CMake found cuda.h), "
           "cc and LLVM 22's llc")

DRIVER = r"""
#include <stdio.h>
#include "scale.h"
int main(void) {
  static float x[SCALE_INPUT0_ELEMENTS], y[SCALE_OUTPUT0_ELEMENTS];
  for (int i = 0; i < SCALE_INPUT0_ELEMENTS; ++i) x[i] = (float)i - 512.0f;
  printf("started\n");
  fflush(stdout);
  scale_run(x, y);
  printf("y[1000] = %g\n", y[1000]);
  return 0;
}
"""


@pytest.fixture(scope="module")
def scale_object(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-aot")
    assert aot.main([str(SCALE), "-o", str(out), "--name", "scale", "--device", "cuda",
                     "--chip", "sm_90", "--upstream-gpu-pipeline", "--cpu", "x86-64-v3"]) == 0
    return out


def _nm(*args):
    return subprocess.run([str(aot.LLVM_BIN / "llvm-nm"), *map(str, args)], capture_output=True,
                          text=True, check=True).stdout


def test_object_has_entry_and_kernels(scale_object):
    obj = scale_object / "scale.o"
    defined = _nm("--defined-only", "--extern-only", obj).split()
    assert "_mlir_ciface_scale" in defined
    undefined = set(_nm("-u", obj).split()[1::2])
    # It calls the runtime, and nothing outside it and the C library.
    assert {"mgpuModuleLoad", "mgpuModuleGetFunction", "mgpuLaunchKernel",
            "mgpuMemAlloc", "mgpuMemcpy"} <= undefined
    assert undefined <= aot.CUDA_RUNTIME_FUNCTIONS | aot.LIBC
    # The fatbin is in the object (its magic number 0xBA55ED50).
    assert b"\x50\xed\x55\xba" in obj.read_bytes()
    header = (scale_object / "scale.h").read_text()
    assert "NVIDIA GPUs (sm_90" in header and "-lquant_opt_cuda_runtime" in header
    assert "void _mlir_ciface_scale(scale_memref_f32_1d *input0, " \
           "scale_memref_f32_1d *output0);" in header


def test_links_with_runtime_and_fails_clearly_without_driver(scale_object, tmp_path):
    """The program links against the runtime with cc; it starts (the
    kernels load lazily) and, with no driver, the call says why."""
    (tmp_path / "main.c").write_text(DRIVER)
    exe = tmp_path / "app"
    runtime = _runtime()
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", f"-I{scale_object}", str(tmp_path / "main.c"),
                    str(scale_object / "scale.o"), f"-L{runtime.parent}",
                    "-lquant_opt_cuda_runtime", f"-Wl,-rpath,{runtime.parent}", "-o", str(exe)],
                   check=True)
    if _have_driver():
        pytest.skip("a CUDA driver is installed: the run is the device check's")
    result = subprocess.run([str(exe)], capture_output=True, text=True)
    assert result.stdout == "started\n"
    assert result.returncode != 0
    assert ("quant-opt CUDA runtime: no CUDA driver (libcuda.so.1) on this machine"
            in result.stderr)


@pytest.fixture(scope="module")
def fake_driver(tmp_path_factory):
    """A directory with test/tools/Inputs/fake_libcuda.c built as
    libcuda.so.1: host memory, memcpy copies, kernels that run nothing."""
    include = Path("/usr/local/cuda/include")
    if not (include / "cuda.h").exists():
        pytest.skip("needs /usr/local/cuda/include/cuda.h")
    if _have_driver():
        pytest.skip("a CUDA driver is installed: LD_LIBRARY_PATH would not replace it for sure")
    out = tmp_path_factory.mktemp("fake-driver")
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{include}",
                    str(ROOT / "test" / "tools" / "Inputs" / "fake_libcuda.c"), "-o",
                    str(out / "libcuda.so.1")], check=True)
    return out


def test_object_runs_on_a_stand_in_driver(scale_object, tmp_path, fake_driver):
    """The host side of the object and the runtime end to end: the fatbin
    is loaded at the first call, the kernel launched with the program's
    grid, the copies made; the kernel runs nothing, so y is x."""
    (tmp_path / "main.c").write_text(DRIVER)
    exe = tmp_path / "app"
    runtime = _runtime()
    subprocess.run(["cc", "-O2", f"-I{scale_object}", str(tmp_path / "main.c"),
                    str(scale_object / "scale.o"), f"-L{runtime.parent}",
                    "-lquant_opt_cuda_runtime", f"-Wl,-rpath,{runtime.parent}", "-o", str(exe)],
                   check=True)
    result = subprocess.run([str(exe)], capture_output=True, text=True,
                            env={**os.environ, "LD_LIBRARY_PATH": str(fake_driver)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "started\ny[1000] = 488\n"
    calls = [line for line in result.stderr.splitlines() if line.startswith("fake-cuda:")]
    assert calls.index("fake-cuda: cuModuleLoadData fatbin") < \
        calls.index("fake-cuda: cuLaunchKernel grid 4x1x1 block 256x1x1 smem 0 params yes")


def test_runtime_defines_every_function_the_lowering_calls():
    """Every mgpu* name MLIR 22's GPU lowering and translation can emit
    (in libMLIR's strings), but the cuSPARSE ones, is exported."""
    libraries = sorted(Path("/usr/lib/llvm-22/lib").glob("libMLIR.so*"))
    if not libraries:
        pytest.skip("no libMLIR.so")
    names = set(re.findall(rb"(mgpu[A-Za-z0-9]+)\x00", libraries[0].read_bytes()))
    names = {n.decode() for n in names}
    sparse = re.compile(r"Sp[A-Z]|SpMat|Dn(Vec|Mat)|Coo|Csr|Csc|Bsr|SDDMM|Sparse|SpGEMM|SpMV|SpMM")
    wanted = {n for n in names if not sparse.search(n)}
    assert {"mgpuLaunchKernel", "mgpuModuleLoad", "mgpuMemAlloc"} <= wanted
    exported = set(_nm("-D", "--defined-only", _runtime()).split()[2::3])
    assert wanted <= exported, sorted(wanted - exported)
    assert wanted == aot.CUDA_RUNTIME_FUNCTIONS, sorted(wanted ^ aot.CUDA_RUNTIME_FUNCTIONS)


def test_runtime_compiles_standalone(tmp_path):
    """As run-on-device.sh builds it: g++, the CUDA headers, -ldl."""
    include = Path("/usr/local/cuda/include")
    if not (include / "cuda.h").exists() or shutil.which("g++") is None:
        pytest.skip("needs g++ and /usr/local/cuda/include/cuda.h")
    library = tmp_path / "libquant_opt_cuda_runtime.so"
    subprocess.run(["g++", "-O2", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                    f"-I{include}", f"-I{ROOT / 'include'}", str(ROOT / aot.CUDA_RUNTIME_SOURCE),
                    "-o", str(library), "-ldl"], check=True)
    status = ctypes.CDLL(str(library)).qnnCudaRuntimeStatus
    message = ctypes.create_string_buffer(512)
    code = status(message, 512)
    if not _have_driver():
        assert code == 1
        assert message.value.decode().startswith(
            "no CUDA driver (libcuda.so.1) on this machine")


def test_host_only_program_is_refused(tmp_path):
    """A program the pipeline leaves on the host makes no GPU object."""
    module = tmp_path / "add.mlir"
    module.write_text("func.func @main(%a: tensor<8xf32>) -> tensor<8xf32> {\n"
                      "  %e = tensor.empty() : tensor<8xf32>\n"
                      "  %r = linalg.add ins(%a, %a : tensor<8xf32>, tensor<8xf32>) "
                      "outs(%e : tensor<8xf32>) -> tensor<8xf32>\n"
                      "  return %r : tensor<8xf32>\n}\n")
    with pytest.raises(aot.AotError):
        aot.compile_module(module, tmp_path / "out", "add", device="cuda",
                           upstream_gpu_pipeline=True)


def test_gpu_pipeline_has_one_name():
    text = aot.gpu_pipeline("sm_80")
    assert "chip=sm_80" in text
    assert ("qnn-gpu-pipeline" in text) or ("gpu-lower-to-nvvm-pipeline" in text)
    with pytest.raises(aot.AotError, match="not one of sm_80, sm_90"):
        aot.gpu_pipeline("sm_70")


def test_cli_rejects_cpu_pipeline_options_for_cuda(tmp_path):
    result = subprocess.run([str(ROOT / "scripts" / "quant-aot"), str(SCALE), "-o", str(tmp_path),
                             "--device", "cuda", "--pipeline-options", "strategy=generic"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == ("quant-aot: error: --pipeline-options are "
                                     "qnn-cpu-pipeline's; they do not apply to --device=cuda "
                                     "(--gpu-pipeline-options are the GPU pipeline's)")
    result = subprocess.run([str(ROOT / "scripts" / "quant-aot"), str(SCALE), "-o", str(tmp_path),
                             "--gpu-pipeline-options", "tile-m=128"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == ("quant-aot: error: --gpu-pipeline-options apply to "
                                     "--device=cuda only")


def test_gpu_pipeline_options_reach_the_pipeline():
    """quant-aot's (and the device check's) --gpu-pipeline-options land in
    the one pipeline text quant-run prints."""
    pipeline = aot.gpu_pipeline("sm_90", options="tile-m=128 warps-n=4")
    assert pipeline.endswith("results-to-out-params=true tile-m=128 warps-n=4})"), pipeline


@pytest.mark.parametrize("b_layout", ["kn", "nk"])
def test_timed_gemm_runs_on_the_tensor_cores(b_layout):
    """The device check's GEMM (a named linalg.matmul) is compiled to the
    tensor-core kernel, not the SIMT one; with B (n, k), both operands are
    contiguous along K and copied by cp.async, 16 bytes at a time; with
    B (k, n), A is staged with 16-byte loads."""
    from quant_opt import gpu_check
    ir = subprocess.run([find_tool("quant-opt"), "--qnn-gpu-pipeline=lower-to-llvm=false"],
                        input=gpu_check._gemm_module(256, b_layout), capture_output=True,
                        text=True, check=True).stdout
    assert "nvvm.mma.sync" in ir and "qnn.tensor_core" in ir
    if b_layout == "nk":
        copies = re.findall(r"nvgpu\.device_async_copy .*, 16, .* : memref<256x256xi8> to", ir)
        # Three steps started before the loop and one in it, A and B each.
        assert len(copies) == 8, copies
        assert "vector<16xi8>" not in ir.split("scf.for")[0].split("gpu.launch")[-1]
    else:
        vector_loads = re.findall(r"vector\.load .* : memref<256x256xi8>, vector<16xi8>", ir)
        assert len(vector_loads) >= 2, vector_loads


# --------------------------------------------------------------------------
# The device check's preparation
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from quant_opt import gpu_check
    out = tmp_path_factory.mktemp("bundle") / "gpu-device-check"
    assert gpu_check.main(["-o", str(out), "--quick"]) == 0
    return out


def test_bundle_is_complete_and_small(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    names = {case["name"]: case for case in manifest["cases"]}
    assert {"smoke_requant_i8", "smoke_scale_f32", "layer_matmul", "model_fashion_cnn",
            "gemm_4096", "gemm_8192", "gemm_4096_t128", "gemm_8192_t128",
            "gemm_4096_bt", "gemm_8192_bt_t128", "gemm_8192_bt_t128_regs"} <= set(names)
    assert names["gemm_8192_bt"]["b_layout"] == "nk" and names["gemm_8192"]["b_layout"] == "kn"
    # Registers instead of cp.async only differ for B (n, k).
    assert "async-copies=false" in names["gemm_8192_bt_t128_regs"]["tiles"]
    assert "gemm_8192_t128_regs" not in names
    for name in ("smoke_requant_i8", "smoke_scale_f32"):
        case = names[name]
        assert case["gpu_object"], case.get("skip_reason")
        for file in (f"{name}.o", f"{name}.h", f"{name}_driver.c", "input0.bin", "input0.npy",
                     "expected0.npy", "expected0.bin"):
            assert (bundle / "cases" / name / file).is_file(), file
    # Every case carries its inputs and CPU outputs, object or not.
    for name in ("layer_matmul", "model_fashion_cnn"):
        case_dir = bundle / "cases" / name
        expected = np.load(case_dir / "expected0.npy")
        assert list(expected.shape) == names[name]["outputs"][0]["shape"]
        assert np.ptp(expected) > 0
        if not names[name]["gpu_object"]:
            assert names[name]["skip_reason"]
    if not manifest["qnn_gpu_pipeline"]:
        assert "gpu-lower-to-nvvm-pipeline" in manifest["gpu_pipeline"]
        assert not names["gemm_8192"]["gpu_object"]
    assert (bundle / "runtime" / "CudaRuntime.cpp").read_text() == \
        (ROOT / aot.CUDA_RUNTIME_SOURCE).read_text()
    assert (bundle / "models" / "fashion-cnn.onnx").is_file()
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    assert size < 16 << 20
    assert manifest["bundle_bytes"] <= size


def test_bundle_is_bit_exact_on_the_gpu_emulator(bundle):
    """Every case with CPU outputs (runtime smoke programs, a fused layer,
    fashion-cnn at batch 8) through the same GPU pipeline, its kernels run
    by the GPU emulator here, gives the CPU integer program's outputs bit
    for bit; and the comparison does count a differing element."""
    from quant_opt import gpu_check
    results = gpu_check.emulate(bundle, log=lambda line: None)
    assert {"smoke_requant_i8", "smoke_scale_f32", "layer_matmul",
            "model_fashion_cnn"} <= set(results)
    for name, result in results.items():
        assert result.get("mismatches") == 0, (name, result)
        assert result["elements"] > 0
    expected = np.load(bundle / "cases" / "layer_matmul" / "expected0.npy")
    changed = expected.copy()
    changed.view(f"u{changed.dtype.itemsize}").flat[7] ^= 1  # the last bit
    assert gpu_check._mismatches(expected, changed) == 1


def test_smoke_expected_outputs_are_the_arithmetic(bundle):
    """The CPU reference of the smoke programs is what their formulas say
    (NumPy, independent of quant-run)."""
    x = np.load(bundle / "cases" / "smoke_requant_i8" / "input0.npy").astype(np.int64)
    want = np.clip(((x * 1234 + 8192) >> 14) + 3, -128, 127).astype(np.int8)
    assert np.array_equal(np.load(bundle / "cases" / "smoke_requant_i8" / "expected0.npy"), want)
    x = np.load(bundle / "cases" / "smoke_scale_f32" / "input0.npy")
    want = np.maximum(x * np.float32(0.5) + np.float32(0.25), np.float32(0))
    got = np.load(bundle / "cases" / "smoke_scale_f32" / "expected0.npy")
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_device_script_syntax_and_dry_run(bundle, tmp_path):
    for script in ("run-on-device.sh", "prepare"):
        subprocess.run(["bash", "-n", str(CHECK_DIR / script)], check=True)
    result = subprocess.run(["bash", str(CHECK_DIR / "run-on-device.sh"), str(bundle), "--dry-run"],
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dry run: bundle complete, runtime built, every driver linked" in result.stdout
    assert "| smoke_scale_f32 | smoke |" in result.stdout


def test_real_run_without_driver_fails_each_case_clearly(bundle):
    """Not a dry run, on a machine without a driver: every built case
    fails with the runtime's message and the check exits 1."""
    if _have_driver():
        pytest.skip("a CUDA driver is installed")
    result = subprocess.run(["bash", str(CHECK_DIR / "run-on-device.sh"), str(bundle),
                             "--skip-timing"], capture_output=True, text=True,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("smoke_scale_f32: FAILED: quant-opt CUDA runtime: no CUDA driver (libcuda.so.1) on "
            "this machine") in result.stdout
    # Every case with a GPU object is run, and each fails.
    to_compare = re.search(r"(\d+) to compare", result.stdout)
    assert to_compare and int(to_compare.group(1)) >= 2, result.stdout
    assert f"0 cases compared, {to_compare.group(1)} failed or mismatched" in result.stdout


def test_run_on_a_stand_in_driver_counts_mismatches(bundle, fake_driver, tmp_path):
    """With kernels that run nothing, the outputs are the inputs: the check
    runs each case, counts every differing element, times the calls (the
    stand-in's events say 0.5 ms a kernel) and the GEMMs up to --max-gemm
    (the 8192^3 ones would copy 384 MiB a call here), and exits 1."""
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(["bash", str(CHECK_DIR / "run-on-device.sh"), str(bundle),
                             "--max-gemm=4096"],
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHON": sys.executable,
                                 "LD_LIBRARY_PATH": str(fake_driver), "OUT": str(out)})
    assert result.returncode == 1, result.stdout + result.stderr
    x = np.load(bundle / "cases" / "smoke_requant_i8" / "input0.npy")
    want = np.load(bundle / "cases" / "smoke_requant_i8" / "expected0.npy")
    differ = int(np.count_nonzero(x != want))
    assert f"smoke_requant_i8: {differ} mismatches of {x.size}" in result.stdout
    report = json.loads((out / "results.json").read_text())
    row = next(r for r in report["cases"] if r["name"] == "smoke_requant_i8")
    assert row["mismatches"] == differ and row["launches_per_call"] == 1.0
    assert row["kernel_ms"] == pytest.approx(0.5)
    assert "| smoke_requant_i8 | smoke | 65536 |" in (out / "results.md").read_text()
    # The stand-in's 0.5 ms a kernel, so many per call: 2 * 4096^3 / kernel time.
    small = [row for row in report["gemm"] if row["n"] == 4096]
    large = [row for row in report["gemm"] if row["n"] == 8192]
    assert small and large
    for row in small:
        kernel_ms = row["ours_kernel_ms"]
        assert kernel_ms > 0 and kernel_ms % 0.5 == 0, row
        assert row["ours_int8_tops"] == pytest.approx(2 * 4096**3 / kernel_ms / 1e9), row
    for row in large:
        assert row["note"] == "not run: larger than --max-gemm 4096" and "ours_int8_tops" not in row


def test_dry_run_finds_a_missing_file(bundle, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    (broken / "cases" / "smoke_scale_f32" / "expected0.npy").unlink()
    result = subprocess.run(["bash", str(CHECK_DIR / "run-on-device.sh"), str(broken), "--dry-run"],
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode != 0
    assert "the bundle lacks" in result.stderr and "expected0.npy" in result.stderr


def test_compare_counts_every_differing_element():
    sys.path.insert(0, str(CHECK_DIR))
    try:
        import device_check
    finally:
        sys.path.pop(0)
    a = np.array([1.0, -0.0, np.nan, 2.5], np.float32)
    b = np.array([1.0, 0.0, np.nan, 2.5000002], np.float32)
    bad, _ = device_check.compare(a, b)
    assert bad == 2  # -0.0 against 0.0, and the last element; equal NaNs match
    bad, largest = device_check.compare(np.array([1, 2, 3], np.int8), np.array([1, -2, 3], np.int8))
    assert (bad, largest) == (1, 4)
