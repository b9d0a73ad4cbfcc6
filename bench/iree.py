"""IREE (PyPI iree-base-compiler / iree-base-runtime, llvm-cpu backend for
the host CPU) on the shapes of bench/quant_opt_bench.cpp: the same
linalg programs (u8 x s8 -> i32 or f32 matmuls and the 3x3 convolution,
weights as constants), compiled by iree-compile and timed by
iree-benchmark-module on one thread (local-sync device). Prints a Markdown
table of GOPS; run it through scripts/bench-iree.sh.

Usage: python bench/iree.py IREE_BIN_DIR WORK [--repetitions N]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def dense(array):
    return f'dense<"0x{array.tobytes().hex().upper()}">'


def body(int8):
    if int8:
        return ("    %xe = arith.extui %x : i8 to i32\n"
                "    %ye = arith.extsi %y : i8 to i32\n"
                "    %p = arith.muli %xe, %ye : i32\n"
                "    %s = arith.addi %acc, %p : i32\n")
    return ("    %p = arith.mulf %x, %y : f32\n"
            "    %s = arith.addf %acc, %p : f32\n")


def weights(shape, int8):
    rng = np.random.default_rng(42)
    if int8:
        return rng.integers(-128, 128, shape, dtype=np.int8)
    return rng.uniform(-1, 1, shape).astype(np.float32)


def matmul(m, k, n, int8):
    t, acc, zero = ("i8", "i32", "0") if int8 else ("f32", "f32", "0.0")
    w = weights((k, n), int8)
    return f"""
func.func @kernel(%a: tensor<{m}x{k}x{t}>) -> tensor<{m}x{n}x{acc}> {{
  %b = arith.constant {dense(w)} : tensor<{k}x{n}x{t}>
  %zero = arith.constant {zero} : {acc}
  %e = tensor.empty() : tensor<{m}x{n}x{acc}>
  %i = linalg.fill ins(%zero : {acc}) outs(%e : tensor<{m}x{n}x{acc}>) -> tensor<{m}x{n}x{acc}>
  %r = linalg.generic {{indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%a, %b : tensor<{m}x{k}x{t}>, tensor<{k}x{n}x{t}>) outs(%i : tensor<{m}x{n}x{acc}>) {{
  ^bb0(%x: {t}, %y: {t}, %acc: {acc}):
{body(int8)}    linalg.yield %s : {acc}
  }} -> tensor<{m}x{n}x{acc}>
  return %r : tensor<{m}x{n}x{acc}>
}}
""", f"{m}x{k}x{t}=1", 2.0 * m * k * n


def conv(int8):
    t, acc, zero = ("i8", "i32", "0") if int8 else ("f32", "f32", "0.0")
    w = weights((3, 3, 64, 64), int8)
    return f"""
func.func @kernel(%image: tensor<1x58x58x64x{t}>) -> tensor<1x56x56x64x{acc}> {{
  %w = arith.constant {dense(w)} : tensor<3x3x64x64x{t}>
  %zero = arith.constant {zero} : {acc}
  %e = tensor.empty() : tensor<1x56x56x64x{acc}>
  %i = linalg.fill ins(%zero : {acc}) outs(%e : tensor<1x56x56x64x{acc}>) -> tensor<1x56x56x64x{acc}>
  %r = linalg.generic {{indexing_maps = [affine_map<(n, h, w, f, kh, kw, c) -> (n, h + kh, w + kw, c)>, affine_map<(n, h, w, f, kh, kw, c) -> (kh, kw, c, f)>, affine_map<(n, h, w, f, kh, kw, c) -> (n, h, w, f)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}}
      ins(%image, %w : tensor<1x58x58x64x{t}>, tensor<3x3x64x64x{t}>) outs(%i : tensor<1x56x56x64x{acc}>) {{
  ^bb0(%x: {t}, %y: {t}, %acc: {acc}):
{body(int8)}    linalg.yield %s : {acc}
  }} -> tensor<1x56x56x64x{acc}>
  return %r : tensor<1x56x56x64x{acc}>
}}
""", f"1x58x58x64x{t}=1", 2.0 * 56 * 56 * 64 * 64 * 9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("iree_bin", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cases = []
    for int8 in (True, False):
        for shape in ((1024, 1024, 1024), (128, 4096, 4096)):
            cases.append(("matmul", "x".join(map(str, shape)), int8, matmul(*shape, int8)))
        cases.append(("conv", "3x3 56x56x64->64", int8, conv(int8)))
    print("| op | shape (MxKxN) | type | IREE GOPS |")
    print("|---|---|---|---|")
    for op, shape, int8, (source, input_spec, ops) in cases:
        name = f"{op}-{shape.replace(' ', '_').replace('>', '')}-{'int8' if int8 else 'f32'}"
        mlir, vmfb = args.work / f"{name}.mlir", args.work / f"{name}.vmfb"
        mlir.write_text(source)
        subprocess.run([str(args.iree_bin / "iree-compile"), str(mlir),
                        "--iree-hal-target-device=local",
                        "--iree-hal-local-target-device-backends=llvm-cpu",
                        "--iree-llvmcpu-target-cpu=host", "-o", str(vmfb)], check=True)
        out = subprocess.run([str(args.iree_bin / "iree-benchmark-module"), f"--module={vmfb}",
                              "--device=local-sync", "--function=kernel",
                              f"--input={input_spec}",
                              f"--benchmark_repetitions={args.repetitions}",
                              "--benchmark_format=json"],
                             check=True, capture_output=True, text=True).stdout
        report = json.loads(out[out.index("{"):])
        medians = [run for run in report["benchmarks"] if run.get("aggregate_name") == "median"]
        run = medians[0] if medians else report["benchmarks"][0]
        seconds = run["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[run["time_unit"]]
        print(f"| {op} | {shape} | {'int8' if int8 else 'f32'} | {ops / seconds * 1e-9:.1f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
