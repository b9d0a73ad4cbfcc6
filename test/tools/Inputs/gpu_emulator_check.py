"""Runs every function of a quantized module on the CPU and on the GPU
emulator (quant-run --device=cuda-emulator) and compares the results bit for
bit. Used by quant-run-cuda-emulator.test.

  gpu_emulator_check.py QUANT_RUN QUANT_OPT MODULE WORKDIR [QUANT_RUN_ARGS...]

Every `qnn.constant dense<v>` weight of MODULE is replaced first by seeded
random values (a splat weight would hide a kernel that mixes up its
elements), and the inputs are random, in ranges that keep a good part of
the outputs inside the output type's range (a saturated output hides
errors too; the script fails if fewer than a quarter are inside), and the
module is fused (quant-opt --qnn-fuse-quantized-ops) into the integer
program both devices run. Prints,
per function: elements, how many are inside the range, mismatches, and the
mma.sync the emulator executed (QUANT_OPT_GPU_EMULATOR_LOG). More arguments
go to the emulator's quant-run (--gpu-pipeline-options=..., say).
"""

import os
import re
import subprocess
import sys

import numpy as np

quant_run, quant_opt, module_path, work = sys.argv[1:5]
emulator_args = sys.argv[5:]
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(2026)
text = open(module_path).read()


def random_weight(match):
    shape = [int(d) for d in match.group(2).split("x")]
    values = rng.integers(-30, 31, size=shape)
    body = np.array2string(values, separator=", ", threshold=1 << 30,
                           max_line_width=1 << 30)
    return f"dense<{body}> : tensor<{match.group(2)}xi8>"


text = re.sub(r"dense<(-?\d+)> : tensor<((?:\d+x)*\d+)xi8>", random_weight, text)
open(os.path.join(work, "random-weights.mlir"), "w").write(text)
module = os.path.join(work, "fused.mlir")
subprocess.run([quant_opt, os.path.join(work, "random-weights.mlir"), "--qnn-fuse-quantized-ops",
                "-o", module], check=True)

aliases = dict(re.findall(r"^(!\w+) = !quant\.uniform<(u8|i8)", text, re.M))


def element_type(spec):
    """numpy type of a tensor's element spec (a quant alias, a quant type, f32
    or i8)."""
    spec = spec.strip()
    if spec in aliases:
        return np.uint8 if aliases[spec] == "u8" else np.int8
    if spec.startswith("!quant.uniform<u8"):
        return np.uint8
    if spec.startswith("!quant.uniform<i8"):
        return np.int8
    if spec == "f32":
        return np.float32
    if spec == "i8":
        return np.int8
    raise SystemExit(f"unknown element type {spec}")


def random_input(shape, dtype):
    if dtype == np.uint8:
        return rng.integers(0, 31, size=shape).astype(np.uint8)
    if dtype == np.int8:
        return rng.integers(-15, 16, size=shape).astype(np.int8)
    return rng.uniform(-5, 20, size=shape).astype(np.float32)


failed = False
for name, args in re.findall(r"func\.func @(\w+)\((.*)\) ->", text):
    inputs = []
    for i, (shape, spec) in enumerate(re.findall(r"tensor<((?:\d+x)*\d+)x(!\w+|!quant\.uniform<[^>]*>|f32|i8)>", args)):
        array = random_input([int(d) for d in shape.split("x")], element_type(spec))
        path = os.path.join(work, f"{name}_in{i}.npy")
        np.save(path, array)
        inputs += ["-i", path]
    results = {}
    mmas = 0
    for device in ("cpu", "cuda-emulator"):
        out = os.path.join(work, f"{name}_{device}.npy")
        env = dict(os.environ, QUANT_OPT_GPU_EMULATOR_LOG="1")
        extra = emulator_args if device != "cpu" else []
        run = subprocess.run([quant_run, module, "-f", name, *inputs, "-o", out,
                              f"--device={device}", *extra], capture_output=True, text=True,
                             env=env)
        if run.returncode != 0:
            print(f"{name}: quant-run --device={device} failed:\n{run.stderr}")
            sys.exit(1)
        results[device] = np.load(out)
        mmas += sum(int(m) for m in re.findall(r"(\d+) mma\.sync", run.stderr))
    cpu, gpu = results["cpu"], results["cuda-emulator"]
    if cpu.dtype != gpu.dtype or cpu.shape != gpu.shape:
        print(f"{name}: CPU {cpu.dtype}{cpu.shape}, emulator {gpu.dtype}{gpu.shape}")
        sys.exit(1)
    # Elements whose bytes differ (bit for bit, so also for floats).
    bytes_of = lambda a: a.reshape(-1).view(np.uint8).reshape(a.size, -1)
    mismatches = int((bytes_of(cpu) != bytes_of(gpu)).any(axis=1).sum())
    if cpu.dtype.kind in "ui":
        info = np.iinfo(cpu.dtype)
        inside = int(((cpu > info.min) & (cpu < info.max)).sum())
    else:
        inside = cpu.size
    print(f"{name}: {cpu.size} elements, {inside} inside the range, {mismatches} mismatches, "
          f"{mmas} mma.sync")
    if inside * 4 < cpu.size:
        print(f"{name}: too few outputs inside the range to test the kernel")
        failed = True
sys.exit(1 if failed else 0)
