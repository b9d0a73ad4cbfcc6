# -*- Python -*-
"""lit configuration of the quant-opt regression tests."""

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "QUANT_OPT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "README.md", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quant_opt_obj_root, "test")

# Variables of a CHECK block do not leak into the next CHECK-LABEL block.
config.environment["FILECHECK_OPTS"] = "-enable-var-scope"

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(
    ("%examples", os.path.join(config.quant_opt_src_root, "examples"))
)
config.substitutions.append(
    ("%quant_opt_python", os.path.join(config.quant_opt_src_root, "python"))
)
# The build tree, for the test that installs it and builds a consumer.
config.substitutions.append(("%quant_opt_build", config.quant_opt_obj_root))
# Runtime libraries mlir-runner loads for printing.
config.substitutions.append(
    (
        "%mlir_runner_utils",
        os.path.join(config.llvm_lib_dir, "libmlir_runner_utils.so"),
    )
)
config.substitutions.append(
    (
        "%mlir_c_runner_utils",
        os.path.join(config.llvm_lib_dir, "libmlir_c_runner_utils.so"),
    )
)

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

tool_dirs = [config.quant_opt_tools_dir, config.llvm_tools_dir]
tools = [
    "quant-opt",
    "quant-run",
    ToolSubst("mlir-runner", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# quant-opt first, then LLVM's FileCheck, not, count, split-file.
llvm_config.with_environment("PATH", config.quant_opt_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment(
    "PYTHONPATH", os.path.join(config.quant_opt_src_root, "python"), append_path=True
)

# A sanitizer build (scripts/sanitize.sh): its libraries need the
# sanitizer's runtime in whatever links them.
if config.quant_opt_sanitize:
    config.available_features.add("sanitized")

# Host CPU features tests may depend on (docs/Testing.md: a test about one
# CPU kind says so and does not apply elsewhere).
try:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = cpuinfo.read()
except OSError:
    flags = ""
for flag, feature in [("amx_int8", "host-amx-int8"), ("avx512_vnni", "host-avx512-vnni"), ("avx512bw", "host-avx512bw")]:
    if flag in flags:
        config.available_features.add(feature)

# CUDA (docs/GPU.md): whether the runtime was built (CMake found cuda.h),
# whether a driver loads here, and the toolkit's stub libcuda.so (linking
# only; it fails cuInit) for tests of the runtime's error path.
if config.quant_opt_cuda_runtime and os.path.exists(config.quant_opt_cuda_runtime):
    config.available_features.add("cuda-runtime")
    config.substitutions.append(("%cuda_runtime", config.quant_opt_cuda_runtime))
    config.substitutions.append(("%cuda_include", config.quant_opt_cuda_include))
# The GPU emulator (lib/Runtime/GPUEmulator): always built.
config.substitutions.append(("%gpu_emulator", config.quant_opt_gpu_emulator))
try:
    import ctypes
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass
if config.quant_opt_cuda_include and not config.quant_opt_cuda_include.endswith("-NOTFOUND"):
    stub = os.path.join(os.path.dirname(config.quant_opt_cuda_include), "lib64", "stubs",
                        "libcuda.so")
    if os.path.exists(stub):
        config.available_features.add("cuda-stub")
        config.substitutions.append(("%cuda_stub", stub))
# CUDA's ptxas, to assemble the PTX of qnn-gpu-pipeline (docs/GPU.md):
# tests that need it say `REQUIRES: ptxas` and are reported UNSUPPORTED
# where it is absent (no CUDA toolkit: neither on PATH nor in
# /usr/local/cuda/bin).
import shutil

ptxas = shutil.which("ptxas") or (
    "/usr/local/cuda/bin/ptxas" if os.access("/usr/local/cuda/bin/ptxas", os.X_OK) else None
)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
# Extracts (and with --ptxas assembles) the objects of gpu.binary ops.
config.substitutions.append(
    (
        "%gpu_objects",
        config.python_executable
        + " "
        + os.path.join(config.quant_opt_src_root, "scripts", "gpu-binary-objects.py"),
    )
)
