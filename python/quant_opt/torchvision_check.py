"""Architectures, not only ops: torchvision's classification models through
the importer, the quantizer and the integer program.

    python -m quant_opt.torchvision_check [--models resnet18,...] [--opsets 13,17] [--size 64]

For each architecture and opset: builds the model with seeded random weights
(torch.manual_seed; eval mode; BatchNorm running statistics and affine
parameters randomized too, so BatchNorm folding is exercised), exports it to
ONNX at the opset (torch.onnx.export, static batch), imports it with
quant_opt.onnx_import and runs the float program on seeded random inputs
against ONNX Runtime (max |error|, relative to the largest |output|); then
calibrates, quantizes and runs it with quant-eval's machinery
(quant_opt.evaluate) and reports the integer program's bit-exactness against
the NumPy reference (mismatches must be 0), the quantized output's SQNR and
top-1 agreement with float, how many contractions (convolutions, matmuls)
were fused to integer kernels and how many stayed float, and the wall time.

Random weights: accuracy is not the point; the import, the float semantics
and the integer arithmetic are. Needs torch and torchvision (Debian 12's
python3-torchvision 0.14: scripts/install-torchvision.sh). docs/Harness.md
("torchvision architectures") has the table this prints.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# The architectures issue 14 asks for, then a few more of torchvision 0.14's
# classification models (name: constructor keyword arguments; "image_size"
# is filled with --size where the constructor takes it).
DEFAULT_MODELS = [
    "resnet18", "mobilenet_v2", "squeezenet1_0", "resnet50", "mobilenet_v3_small", "mobilenet_v3_large",
    "shufflenet_v2_x1_0", "squeezenet1_1", "efficientnet_b0", "densenet121", "mnasnet1_0", "vit_b_16",
]
EXTRA_MODELS = ["googlenet", "regnet_x_400mf", "resnext50_32x4d", "convnext_tiny"]
IMAGE_SIZE_MODELS = ("vit_",)

# The float program against ONNX Runtime: max |error| relative to the
# largest |output| of ONNX Runtime.
FLOAT_TOLERANCE = 1e-4


def build_model(name: str, size: int, seed: int):
    """torchvision's `name` with seeded random weights, BatchNorm statistics
    included, in eval mode."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    kwargs = {"weights": None}
    if name.startswith(IMAGE_SIZE_MODELS):
        kwargs["image_size"] = size
    if name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=True)
    model = getattr(torchvision.models, name)(**kwargs)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            # Weights torchvision initializes to zeros (ViT's classifier
            # head): drawn at random too, else the logits are all zero.
            weight = getattr(module, "weight", None)
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and not torch.any(weight):
                fan_in = weight[0].numel()
                weight.copy_(torch.randn(weight.shape, generator=generator) / math.sqrt(fan_in))
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                channels = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(channels, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(channels, generator=generator))
                if module.affine:
                    module.weight.copy_(0.5 + torch.rand(channels, generator=generator))
                    module.bias.copy_(0.1 * torch.randn(channels, generator=generator))
    return model.eval()


def export(model, path: Path, opset: int, batch: int, size: int) -> None:
    import torch

    x = torch.zeros(batch, 3, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, str(path), opset_version=opset, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True)


# --- counting the fused contractions ------------------------------------

_NAMED_CONTRACTION = re.compile(
    r"linalg\.(conv_\w+|depthwise_conv_\w+|matmul|batch_matmul|matvec|vecmat|batch_matvec|contract)\b"
    r"[^\n]*?outs\([^\n]*?: tensor<[0-9x]*(\w+)>")
_GENERIC = re.compile(r"linalg\.generic \{indexing_maps = \[[^\]]*\], iterator_types = \[([^\]]*)\]\}"
                      r"(.*?)\} -> tensor<", re.S)


def contraction_counts(module_text: str) -> dict:
    """In a quantized program stopped at the fused qnn ops
    (qnn-quantize-pipeline lower-to-integers=false): contractions in
    integers (a reduction multiplying integers) and in float (a named linalg
    contraction on floats, or a reduction multiplying floats), and the qnn
    ops at the integer program's edges."""
    integer = floating = 0
    for match in _NAMED_CONTRACTION.finditer(module_text):
        if match.group(2).startswith(("f", "bf")):
            floating += 1
        else:
            integer += 1
    for iterators, body in _GENERIC.findall(module_text):
        # (qnn.internal: the inner reductions of a Softmax or a
        # LayerNormalization, whose variance multiplies floats.)
        if "reduction" not in iterators or "{qnn.internal}" in body.split("\n", 1)[0]:
            continue
        if "arith.muli" in body:
            integer += 1
        elif "arith.mulf" in body:
            floating += 1
    ops = lambda name: len(re.findall(rf"\bqnn\.{name}\b", module_text))  # noqa: E731
    return {"integer": integer, "float": floating, "rescale": ops("rescale"), "add": ops("add"),
            "quantize": ops("quantize"), "dequantize": ops("dequantize")}


_LOCATED_GENERIC = re.compile(r"linalg\.generic \{[^\n]*\n(.*?)\} -> tensor<[^>]*> loc\((#loc\d+|\"[^\"]*\")\)",
                              re.S)
_FLOAT_ARITHMETIC = re.compile(r"\b(?:arith\.\w+f|math\.\w+)\b")


def float_ops(module_text: str) -> dict[str, int]:
    """The ONNX op types (from the locations) of the element-wise and
    reduction ops that compute in float in a quantized program: what
    quant-opt leaves between a qnn.dequantize and a qnn.quantize."""
    aliases = dict(re.findall(r'^(#loc\d+) = loc\("([^"]*)"', module_text, re.M))
    counts: dict[str, int] = {}
    for body, loc in _LOCATED_GENERIC.findall(module_text):
        if not _FLOAT_ARITHMETIC.search(body):
            continue
        name = aliases.get(loc, loc.strip('"')).rsplit("/", 1)[-1]
        op = re.sub(r"_\d+$", "", name.split(".", 1)[0]) or "?"
        counts[op] = counts.get(op, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def float_contractions(module_text: str) -> int:
    """The contractions of the float program (before quantization)."""
    return contraction_counts(module_text)["float"]


# --- one architecture ---------------------------------------------------


def check_one(name: str, opset: int, size: int, batch: int, samples: int, calibration: int,
              layer_samples: int, seed: int, work: Path, verbose: bool = False) -> dict:
    """One architecture at one opset; the result's "error" says where it
    stopped, if it did."""
    import onnxruntime

    from .evaluate import Config, Evaluation, EvaluationError

    started = time.time()
    result = {"model": name, "opset": opset, "size": size, "batch": batch, "samples": samples}
    work.mkdir(parents=True, exist_ok=True)
    onnx_path = work / f"{name}-op{opset}.onnx"
    stage = "export"
    try:
        model = build_model(name, size, seed)
        export(model, onnx_path, opset, batch, size)
        result["export_seconds"] = round(time.time() - started, 1)
        rng = np.random.default_rng(seed)
        x_eval = rng.standard_normal((samples, 3, size, size), dtype=np.float32)
        x_cal = rng.standard_normal((calibration, 3, size, size), dtype=np.float32)
        np.savez(work / "eval.npz", x=x_eval)
        np.savez(work / "calibration.npz", x=x_cal)
        stage = "onnxruntime"
        session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        peer = np.concatenate([session.run(None, {"input": x_eval[i:i + batch]})[0]
                               for i in range(0, samples, batch)])
        stage = "import"
        config = Config(model=onnx_path, data=str(work / "eval.npz"),
                        calibration_data=str(work / "calibration.npz"), batch=batch,
                        layer_samples=layer_samples, name=name, verbose=verbose, keep=work)
        evaluation = Evaluation(config, work)
        evaluation.prepare()
        result["imported"] = True
        float_out = evaluation.float_out
        scale = float(np.max(np.abs(peer))) or 1.0
        max_error = float(np.max(np.abs(float_out.astype(np.float64) - peer)))
        result["float_max_abs_error"] = max_error
        result["float_relative_error"] = max_error / scale
        result["float_match"] = bool(max_error <= FLOAT_TOLERANCE * scale)
        if not np.any(peer):
            raise EvaluationError("the model's output is all zeros: nothing to compare")
        result["float_contractions"] = float_contractions(evaluation.float_mlir.read_text())
        stage = "quantize"
        report = evaluation.run(layer_samples=layer_samples)
        result["sqnr_db"] = report["output"]["sqnr_db"]
        result["top1_agreement"] = report.get("top1_agreement")
        exact = report.get("bit_exactness")
        if exact:
            result["bit_exactness"] = {"layers_checked": exact["layers_checked"],
                                       "elements": exact["elements"], "mismatches": exact["mismatches"],
                                       "not_checked": len(exact["not_checked"]),
                                       "not_checked_reasons": sorted({u["reason"]
                                                                      for u in exact["not_checked"]})}
        stage = "count"
        fused = evaluation.tools.opt(
            evaluation.float_mlir,
            [f"--qnn-quantize-pipeline={evaluation.pipeline_options('', None)} lower-to-integers=false"],
            work / "fused.mlir")
        result["fused"] = contraction_counts(fused.read_text())
        result["float_ops"] = float_ops(fused.read_text())
    except EvaluationError as error:
        result["error"] = f"{stage}: {error}"
    except Exception as error:  # torch's exporter, ONNX Runtime: their messages are the result
        result["error"] = f"{stage}: {type(error).__name__}: {error}"
    result.setdefault("imported", False)
    result["seconds"] = round(time.time() - started, 1)
    return result


def passed(result: dict) -> bool:
    exact = result.get("bit_exactness") or {}
    return bool(result.get("imported") and result.get("float_match") and "error" not in result
                and exact.get("mismatches") == 0)


# --- output -------------------------------------------------------------


def _fmt_sqnr(value) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.1f}"


def table(results: list[dict]) -> str:
    lines = ["| architecture | opset | imports | float max abs error (relative) vs ORT | contractions int / float "
             "| bit-exact: layers, mismatches | SQNR (dB) | top-1 agreement | seconds | left in float |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if not r.get("imported"):
            lines.append(f"| {r['model']} | {r['opset']} | no | - | - | - | - | - | {r['seconds']:.0f} | - |")
            continue
        error = (f"{r['float_max_abs_error']:.2g} ({r['float_relative_error']:.1g})"
                 if "float_max_abs_error" in r else "-")
        fused = r.get("fused")
        counts = f"{fused['integer']} / {fused['float']}" if fused else "-"
        exact = r.get("bit_exactness")
        exactness = f"{exact['layers_checked']}, **{exact['mismatches']}**" if exact else "-"
        agreement = r.get("top1_agreement")
        lines.append(f"| {r['model']} | {r['opset']} | yes | {error} | {counts} | {exactness} | "
                     f"{_fmt_sqnr(r.get('sqnr_db'))} | "
                     f"{'-' if agreement is None else f'{100 * agreement:.0f}%'} | {r['seconds']:.0f} | "
                     f"{', '.join(f'{op} {n}' for op, n in r.get('float_ops', {}).items()) or '-'} |")
    failures = [r for r in results if "error" in r]
    if failures:
        lines += ["", "Stopped:"]
        for r in failures:
            message = " ".join(r["error"].split())
            lines.append(f"- {r['model']} (opset {r['opset']}): {message[:400]}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="torchvision_check", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated torchvision model names (default: the issue's list; "
                             f"more: {', '.join(EXTRA_MODELS)})")
    parser.add_argument("--opsets", default="13,17", help="ONNX opsets to export at (default: 13,17)")
    parser.add_argument("--size", type=int, default=64, help="image height and width (default: 64)")
    parser.add_argument("--batch", type=int, default=4, help="the exported static batch (default: 4)")
    parser.add_argument("--samples", type=int, default=8, help="evaluation samples (default: 8)")
    parser.add_argument("--calibration", type=int, default=8, help="calibration samples (default: 8)")
    parser.add_argument("--layer-samples", type=int, default=4,
                        help="samples of the per-layer bit-exactness check (default: 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, help="keep the ONNX models and programs here")
    parser.add_argument("--json", type=Path, help="write the results as JSON (appended to by model)")
    parser.add_argument("-v", "--verbose", action="store_true", help="quant-eval's progress output")
    args = parser.parse_args(argv)
    try:
        import torchvision  # noqa: F401
    except ImportError:
        print("torchvision_check: error: torchvision is not installed (scripts/install-torchvision.sh)",
              file=sys.stderr)
        return 1
    for value in (args.samples, args.calibration, args.layer_samples):
        if value % args.batch:
            print(f"torchvision_check: error: sample counts must be multiples of --batch {args.batch}",
                  file=sys.stderr)
            return 1
    models = [m for m in args.models.split(",") if m]
    opsets = [int(o) for o in args.opsets.split(",") if o]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.work_dir or Path(tmp)
        for name in models:
            for opset in opsets:
                result = check_one(name, opset, args.size, args.batch, args.samples, args.calibration,
                                   args.layer_samples, args.seed, root / f"{name}-op{opset}", args.verbose)
                results.append(result)
                status = "ok" if passed(result) else "FAILED"
                print(f"{name} opset {opset}: {status} ({result['seconds']:.0f} s)"
                      + (f": {result['error'].splitlines()[0][:300]}" if "error" in result else ""),
                      file=sys.stderr, flush=True)
                if args.json:
                    from .evaluate import _finite
                    args.json.write_text(json.dumps(_finite(results), indent=1) + "\n")
    print(table(results))
    return 0 if all(passed(r) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
