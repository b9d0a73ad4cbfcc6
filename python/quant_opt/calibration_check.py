"""Differential test of qnn-insert-qdq against the calibration reference.

Generates random calibration statistics (histograms with skewed mass, empty
bins and outliers) and random weights, runs ``quant-opt --qnn-insert-observers
--qnn-insert-qdq`` with every range method and several storage settings, and
compares every scale and zero point quant-opt chose, and every stored weight
value, with :mod:`quant_opt.calibration` and :mod:`quant_opt.reference`.

Exits with status 1 and lists the mismatches, if any.

Usage::

    python -m quant_opt.calibration_check --quant-opt build/bin/quant-opt \\
        --work-dir /tmp/check --tensors 40 --seed 1
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import numpy as np

from quant_opt import calibration as cal
from quant_opt import reference as ref

# (pass options, storage bits, signed, symmetric, narrow range)
_ACTIVATION_SETTINGS = [
    ("", 8, False, False, False),
    ("activation-signed=true activation-symmetric=true", 8, True, True, False),
    ("activation-bits=16 activation-signed=true activation-symmetric=true", 16, True, True, False),
    ("activation-bits=4", 4, False, False, False),
]
_WEIGHT_SETTINGS = [
    ("weight-granularity=per_tensor", None),
    ("weight-granularity=per_channel", "channel"),
    ("weight-granularity=per_group weight-group-size=4", "group"),
    ("weight-granularity=per_channel weight-symmetric=false weight-bits=4", "channel"),
]


def _storage_range(bits, signed, narrow):
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return (lo + 1 if narrow else lo), hi


def _random_statistics(rng) -> cal.TensorStatistics:
    bins = int(rng.integers(8, 400))
    center = rng.normal(0.0, 2.0)
    width = float(10.0 ** rng.uniform(-1.0, 1.5))
    lo = center - width * rng.uniform(0.0, 1.0)
    hi = lo + width
    x = np.linspace(-3, 3, bins)
    counts = np.floor(rng.uniform(0, 1000) * np.exp(-((x - rng.normal()) ** 2))).astype(np.int64)
    counts[rng.random(bins) < 0.1] = 0
    counts[int(rng.integers(bins))] += int(rng.integers(1, 20))  # an outlier bin
    if counts.sum() == 0:
        counts[0] = 1
    if rng.random() < 0.2:  # all positive, as after a ReLU
        lo, hi = abs(lo), abs(lo) + width
    return cal.TensorStatistics(
        float(lo), float(hi), int(counts.sum()), cal.Histogram(float(lo), float(hi), counts)
    )


def _function(names: list[str]) -> str:
    args = ", ".join(f'%a{i}: tensor<4xf32> loc("{n}")' for i, n in enumerate(names))
    results = ", ".join("tensor<4xf32>" for _ in names)
    values = ", ".join(f"%a{i}" for i in range(len(names)))
    return (
        f"func.func @f({args}) -> ({results}) {{\n"
        f"  return {values} : {results}\n}}\n"
    )


def _run(quant_opt: str, module_path: str, options: str) -> str:
    result = subprocess.run(
        [quant_opt, module_path, "--qnn-insert-observers", f"--qnn-insert-qdq={options}",
         "--mlir-print-elementsattrs-with-hex-if-larger=-1"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return result.stdout


_QUANTIZE = re.compile(r"qnn\.quantize %arg(\d+) : tensor<4xf32> -> tensor<4x(!quant\.uniform<[^>]*>)>")


def check_activations(args, rng) -> tuple[int, int]:
    names = [f"t{i}" for i in range(args.tensors)]
    stats = {n: _random_statistics(rng) for n in names}
    stats_path = os.path.join(args.work_dir, "statistics.json")
    cal.dump_statistics(stats, stats_path)
    module_path = os.path.join(args.work_dir, "activations.mlir")
    with open(module_path, "w") as f:
        f.write(_function(names))

    checked = mismatches = 0
    for method in cal.METHODS:
        for options, bits, signed, symmetric, narrow in _ACTIVATION_SETTINGS:
            qmin, qmax = _storage_range(bits, signed, narrow)
            out = _run(args.quant_opt, module_path,
                       f"statistics={stats_path} activation-method={method} "
                       f"activation-percentile=99.5 {options}")
            for index, text in _QUANTIZE.findall(out):
                name = names[int(index)]
                got = ref.parse_quant_type(text)
                lo, hi = cal.estimate_range(stats[name], method, symmetric, qmin, qmax, 99.5)
                scale, zero_point = cal.choose_parameters(lo, hi, qmin, qmax, symmetric)
                checked += 1
                if float(got.scales) != scale or int(got.zero_points) != zero_point:
                    mismatches += 1
                    print(f"MISMATCH {name} {method} [{options}]: quant-opt {text}, "
                          f"reference scale {scale!r} zero point {zero_point}")
    return checked, mismatches


_CONSTANT = re.compile(r"qnn\.constant dense<(.*?)> : tensor<8x6x(i\d+)> -> tensor<8x6x(!quant\.uniform<.*?>)>\n")


def check_weights(args, rng) -> tuple[int, int]:
    checked = mismatches = 0
    for trial in range(args.weights):
        w = rng.normal(0.0, float(10.0 ** rng.uniform(-2, 1)), size=(8, 6)).astype(np.float32)
        w[:, int(rng.integers(6))] *= 10.0  # one channel with a wider range
        literal = np.array2string(w, separator=", ", floatmode="unique", threshold=1 << 20)
        module = (
            "func.func @f(%x: tensor<1x8xf32>) -> tensor<1x6xf32> {\n"
            f"  %w = arith.constant dense<{literal.replace(chr(10), '')}> : tensor<8x6xf32>\n"
            "  %z = arith.constant 0.0 : f32\n"
            "  %e = tensor.empty() : tensor<1x6xf32>\n"
            "  %i = linalg.fill ins(%z : f32) outs(%e : tensor<1x6xf32>) -> tensor<1x6xf32>\n"
            "  %y = linalg.matmul ins(%x, %w : tensor<1x8xf32>, tensor<8x6xf32>)"
            " outs(%i : tensor<1x6xf32>) -> tensor<1x6xf32>\n"
            "  return %y : tensor<1x6xf32>\n}\n"
        )
        module_path = os.path.join(args.work_dir, f"weights{trial}.mlir")
        stats_path = os.path.join(args.work_dir, "weights-statistics.json")
        with open(module_path, "w") as f:
            f.write(module)
        cal.dump_statistics({"f.arg0": cal.TensorStatistics(-1.0, 1.0, 1, None),
                             "linalg.matmul@6:8": cal.TensorStatistics(-1.0, 1.0, 1, None)},
                            stats_path)
        for options, kind in _WEIGHT_SETTINGS:
            out = _run(args.quant_opt, module_path, f"statistics={stats_path} {options}")
            match = _CONSTANT.search(out)
            if not match:
                raise RuntimeError(f"no quantized weight constant in:\n{out}")
            values, _, text = match.groups()
            got_type = ref.parse_quant_type(text, shape=(8, 6))
            bits = got_type.storage_bits
            symmetric = "weight-symmetric=false" not in options
            qmin, qmax = _storage_range(bits, True, True)
            axis, block = {"channel": (1, None), "group": (None, {0: 4, 1: 1}), None: (None, None)}[kind]
            scales, zero_points = cal.weight_parameters(
                w, qmin, qmax, symmetric, axis=axis, block=block)
            want_type = ref.QuantType(
                storage_bits=bits, signed=True, qmin=qmin, qmax=qmax, expressed="f32",
                scales=scales, zero_points=zero_points, axis=axis, block_sizes=block)
            stored = np.array([int(v) for v in re.findall(r"-?\d+", values)]).reshape(8, 6)
            want_stored = ref.quantize(w, want_type)
            checked += 1
            if got_type != want_type or not np.array_equal(stored, want_stored):
                mismatches += 1
                print(f"MISMATCH weights trial {trial} [{options}]:\n  quant-opt {text}\n"
                      f"  reference {ref.format_quant_type(want_type)}\n"
                      f"  stored values equal: {np.array_equal(stored, want_stored)}")
    return checked, mismatches


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quant-opt", required=True)
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--tensors", type=int, default=40)
    parser.add_argument("--weights", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    a_checked, a_bad = check_activations(args, rng)
    w_checked, w_bad = check_weights(args, rng)
    print(f"activations: checked {a_checked} types: {a_bad} mismatches")
    print(f"weights: checked {w_checked} tensors: {w_bad} mismatches")
    return 1 if a_bad or w_bad else 0


if __name__ == "__main__":
    sys.exit(main())
