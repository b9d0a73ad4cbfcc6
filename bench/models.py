"""End-to-end timing of the bundled Fashion models, single thread: quant-opt's
float and int8 programs (qnn-cpu-pipeline through quant-run --repeat) beside
ONNX Runtime's float model and its own int8 quantization (quantize_static,
QDQ, per-channel s8 weights, u8 activations) on the same input, at each
batch size; and, for the models in --dynamic-models, dynamic quantization
(activation scales computed at run time, per tensor: quant-eval's
`activation-dynamic=per_tensor`) beside ONNX Runtime's quantize_dynamic
(s8 weights, u8 activations), as rows "NAME (dynamic)". Prints a Markdown
table; run it through scripts/bench-models.sh (pinned to one core,
OMP_NUM_THREADS=1). Each program's files are kept in WORK/NAME-bBATCH
(NAME-dynamic-bBATCH) for scripts/bench-ab.sh.

Usage: python bench/models.py QUANT_EVAL QUANT_RUN WORK [--batches 1,64]
       [--repeat N] [--models fashion-cnn,...] [--dynamic-models fashion-transformer]
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from quant_opt import datasets  # noqa: E402
from quant_opt.ort_quantize import quantize_with_onnxruntime  # noqa: E402


def quant_run_median(quant_run: str, module: Path, x: Path, repeat: int) -> float:
    out = subprocess.run([quant_run, str(module), "-i", str(x), "--repeat", str(repeat),
                          "-o", str(x.with_suffix(".out.npy"))],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"median of \d+ runs: ([0-9.e-]+) s", out).group(1))


def ort_median(model, x: np.ndarray, repeat: int) -> float:
    """Median seconds of ONNX Runtime on one thread running `model` (a path,
    or a serialized model) on the input `x`."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model if isinstance(model, bytes) else str(model),
                                           options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    session.run(None, feed)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("quant_eval")
    parser.add_argument("quant_run")
    parser.add_argument("work", type=Path)
    parser.add_argument("--batches", default="1,64")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--models", default="fashion-cnn,fashion-mobilenet,fashion-transformer")
    parser.add_argument("--dynamic-models", default="fashion-transformer",
                        help="models also timed with dynamic quantization ('' for none)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    x_test, _ = datasets.load("fashion-mnist", "test")
    x_cal, _ = datasets.load("fashion-mnist", "calibration")
    print("| model | batch | quant-opt f32 ms | quant-opt int8 ms | ORT f32 ms | ORT int8 ms "
          "| int8 speed-up over own f32 | quant-opt int8 / ORT int8 speed |")
    print("|---|---|---|---|---|---|---|---|")
    runs = [(name, False) for name in args.models.split(",") if name]
    runs += [(name, True) for name in args.dynamic_models.split(",") if name]
    for name, dynamic in runs:
        model = ROOT / "models" / name / "model.onnx"
        suffix = "-dynamic" if dynamic else ""
        ort_int8 = args.work / f"{name}.ort-{'dynamic' if dynamic else 'qdq'}.onnx"
        if dynamic:
            from onnxruntime.quantization import QuantType, quantize_dynamic
            quantize_dynamic(str(model), str(ort_int8), weight_type=QuantType.QInt8)
        else:
            quantize_with_onnxruntime(model, x_cal[:256], ort_int8, work=args.work)
        options = ["--options", "activation-dynamic=per_tensor"] if dynamic else []
        for batch in map(int, args.batches.split(",")):
            keep = args.work / f"{name}{suffix}-b{batch}"
            subprocess.run([args.quant_eval, str(model), "--data", "fashion-mnist",
                            "--limit", str(batch), "--batch", str(batch),
                            "--calibration-limit", "256", "--layer-samples", "0",
                            "--keep", str(keep), "-q", *options], check=True, capture_output=True)
            x = np.ascontiguousarray(x_test[:batch])
            np.save(keep / "x.npy", x)
            ours_f32 = quant_run_median(args.quant_run, keep / "float.mlir", keep / "x.npy",
                                        args.repeat)
            ours_int8 = quant_run_median(args.quant_run, keep / "quantized.mlir",
                                         keep / "x.npy", args.repeat)
            peer_f32 = ort_median(model, x, args.repeat)
            peer_int8 = ort_median(ort_int8, x, args.repeat)
            label = f"{name} (dynamic)" if dynamic else name
            print(f"| {label} | {batch} | {ours_f32 * 1e3:.3f} | {ours_int8 * 1e3:.3f} "
                  f"| {peer_f32 * 1e3:.3f} | {peer_int8 * 1e3:.3f} "
                  f"| {ours_f32 / ours_int8:.2f}x | {peer_int8 / ours_int8:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
