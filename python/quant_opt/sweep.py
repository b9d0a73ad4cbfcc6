"""The accuracy sweep: a matrix of quantization recipes over each bundled
model, written as docs/Accuracy.md (a table per model) and a plot of the
accuracy drop against the weights' size.

    scripts/quant-sweep                       # every model in models/, the full matrix
    scripts/quant-sweep --short               # digits-cnn, four recipes (seconds)
    scripts/quant-sweep --models fashion-cnn --limit 2000 -o /tmp/acc.md

Each model is imported, calibrated and run in float once; each recipe then
quantizes it with qnn-quantize-pipeline and runs the integer program through
the same CPU pipeline (quant_opt.evaluate).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from . import datasets
from .evaluate import Config, Evaluation, EvaluationError, _fmt, compare, topk

ROOT = Path(__file__).resolve().parents[2]

# (name, qnn-quantize-pipeline options). Weights are symmetric, narrow-range
# and per channel, activations u8 asymmetric with min/max ranges, unless the
# name says otherwise.
RECIPES = [
    ("W8A8 per-channel (default)", ""),
    ("W8A8 per-tensor", "weight-granularity=per_tensor"),
    ("W8A8 per-channel, asymmetric u8 weights",
     "weight-symmetric=false weight-signed=false weight-narrow-range=false"),
    ("W8A8 per-tensor, asymmetric u8 weights",
     "weight-granularity=per_tensor weight-symmetric=false weight-signed=false weight-narrow-range=false"),
    ("W8A8 symmetric i8 activations", "activation-signed=true activation-symmetric=true"),
    ("W8A8 percentile 99.99", "activation-method=percentile"),
    ("W8A8 MSE", "activation-method=mse"),
    ("W8A8 entropy", "activation-method=entropy"),
    ("W4A8 per-channel", "weight-bits=4"),
    ("W4A8 per-tensor", "weight-bits=4 weight-granularity=per_tensor"),
    ("W8A16", "activation-bits=16 activation-signed=true activation-symmetric=true"),
    ("W3A8 per-channel", "weight-bits=3"),
    # Dynamic quantization (docs/Quantization.md): activation scales chosen
    # at run time; ONNX Runtime's quantize_dynamic is their peer.
    ("W8A8 dynamic per-token (i8 symmetric)",
     "activation-dynamic=per_row activation-signed=true activation-symmetric=true"),
    ("W8A8 dynamic per-tensor (u8, as DynamicQuantizeLinear)", "activation-dynamic=per_tensor"),
]
SHORT_RECIPES = [RECIPES[0], RECIPES[1], RECIPES[8], RECIPES[10]]
# --recipe-set transformer: static and dynamic W8A8 and W8A16.
TRANSFORMER_RECIPES = [RECIPES[0], RECIPES[12], RECIPES[13], RECIPES[10]]
# Recipes on a rewritten float model (name, options, quant-opt passes run on
# the float model first): each its own evaluation, its drop against the
# original float model's top-1.
CLE = "qnn-equalize-cross-layer"
REWRITE_RECIPES = [
    ("W8A8 per-tensor + cross-layer equalization", "weight-granularity=per_tensor", CLE),
    ("W4A8 per-tensor + cross-layer equalization", "weight-bits=4 weight-granularity=per_tensor", CLE),
    ("W4A8 per-channel + cross-layer equalization", "weight-bits=4", CLE),
    # Calibration-driven repairs (docs/Quantization.md): quant-eval computes
    # the contraction statistics on the calibration split.
    ("W4A8 per-channel + GPTQ", "weight-bits=4", "qnn-round-weights-gptq{bits=4}"),
    ("W4A8 per-channel + bias correction", "weight-bits=4", "qnn-correct-bias{bits=4}"),
    # Non-uniform weights (docs/Quantization.md): 2^K int8 entries per output
    # channel from k-means, K-bit codes; beside "W4A8 per-channel" and
    # "W3A8 per-channel" (uniform at the same bits).
    ("W4A8 per-channel k-means codebook", "", "qnn-cluster-weights=bits=4"),
    ("W3A8 per-channel k-means codebook", "", "qnn-cluster-weights=bits=3"),
    ("W8A8 per-channel k-means codebook", "", "qnn-cluster-weights=bits=8"),
    # SmoothQuant (docs/Quantization.md): LayerNorm outputs' channel ranges
    # migrated into the matmul weights; a no-op on models without one.
    ("W8A8 per-channel + SmoothQuant (alpha 0.5)", "", "qnn-smooth-quant{alpha=0.5}"),
]
# --recipe-set codebook: non-uniform against uniform at the same bits only.
CODEBOOK_RECIPES = [RECIPES[0], RECIPES[8], RECIPES[-1]]
CODEBOOK_REWRITE_RECIPES = [r for r in REWRITE_RECIPES if "codebook" in r[0]]
TRANSFORMER_REWRITE_RECIPES = [r for r in REWRITE_RECIPES if "SmoothQuant" in r[0]]
# Quantization-aware fine-tuning rows (quant-qat): weight bits, on the
# models whose ops quant-qat runs; each exported QDQ model is evaluated as
# quant-eval evaluates QDQ models, its drop against the original float model.
QAT_BITS = (8, 4)
QAT_EPOCHS = 2


# The automatic 16-bit fallback row (quant-eval --fallback-16bit-below): the
# first recipe's activations below this local SQNR at 16 bits.
FALLBACK_DB = 25.0
FALLBACK = f"W8A8 per-channel + automatic 16-bit fallback (local SQNR < {FALLBACK_DB:g} dB)"


def qat_name(bits: int, epochs: int) -> str:
    return f"W{bits}A8 per-channel, QAT ({epochs} epoch{'s' if epochs != 1 else ''}, quant-qat)"


PEER = "onnxruntime quantize_static, W8A8 per-channel (peer)"
PEER_DYNAMIC = "onnxruntime quantize_dynamic, W8A8 per-channel (peer)"
# The automatic mixed-precision row: quant-mixed's search (on the data set's
# validation split) for this top-1 budget, its recipe evaluated like the rest.
MIXED_BUDGET = 0.5
MIXED = f"mixed precision for a {MIXED_BUDGET}-point budget (quant-mixed)"


def onnxruntime_peer(model_path: Path, x_cal, x_eval, y_eval, float_out, batch: int, work: Path,
                     task: str = "classification", dynamic: bool = False) -> dict:
    """The peer measured in the same run: ONNX Runtime's own post-training
    quantizer (QDQ format, per-channel symmetric i8 weights, u8 activations,
    min/max calibration on the same calibration samples), run by ONNX
    Runtime's CPU kernels on the same evaluation samples, compared with the
    same float program as quant-opt's rows. `dynamic`: its quantize_dynamic
    instead (per-channel i8 weights, u8 activations quantized per tensor at
    run time by DynamicQuantizeLinear; no calibration)."""
    import numpy as np
    import onnxruntime
    from .ort_quantize import quantize_dynamic_with_onnxruntime, quantize_with_onnxruntime

    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    quantized = work / ("peer_dynamic.onnx" if dynamic else "peer_int8.onnx")
    note = None
    if dynamic:
        quantize_dynamic_with_onnxruntime(model_path, quantized, work)
        try:
            peer = onnxruntime.InferenceSession(str(quantized), providers=["CPUExecutionProvider"])
        except Exception:  # onnxruntime raises its own kinds
            # ONNX Runtime's CPU kernels have no ConvInteger of int8
            # weights: its users quantize convolutions' weights to u8.
            quantize_dynamic_with_onnxruntime(model_path, quantized, work, weight_type="QUInt8")
            peer = onnxruntime.InferenceSession(str(quantized), providers=["CPUExecutionProvider"])
            note = "u8 weights (ONNX Runtime runs no int8 ConvInteger)"
    else:
        quantize_with_onnxruntime(model_path, x_cal, quantized, batch, work)
        peer = onnxruntime.InferenceSession(str(quantized), providers=["CPUExecutionProvider"])
    out = np.concatenate([peer.run(None, {input_name: x_eval[i:i + batch]})[0]
                          for i in range(0, len(x_eval), batch)])
    from .ort_quantize import onnxruntime_int8_is_exact
    row = {"recipe_name": PEER_DYNAMIC if dynamic else PEER, "output": compare(float_out, out),
           "onnxruntime_int8_exact": onnxruntime_int8_is_exact()}
    if note:
        row["note"] = note
    if task == "classification":
        row["top1_agreement"] = float(np.mean(float_out.argmax(1) == out.argmax(1)))
    if y_eval is not None and task == "classification":
        row["quantized_top1"] = topk(out, y_eval, 1)
        row["top1_drop"] = topk(float_out, y_eval, 1) - row["quantized_top1"]
    return row


def bundled_models(pretrained: bool = False) -> dict[str, tuple[Path, str, str | None, str]]:
    """models/<name>/model.onnx with the data set its metrics.json names (and
    the pretrained ones models/pretrained.py prepared under build/pretrained,
    with their own evaluation and calibration files)."""
    models = {}
    places = [ROOT / "models"] + ([ROOT / "build" / "pretrained"] if pretrained else [])
    for place in places:
        for metrics in sorted(place.glob("*/metrics.json")):
            info = json.loads(metrics.read_text())
            if info.get("dataset") and (metrics.parent / "model.onnx").is_file():
                models[metrics.parent.name] = (metrics.parent / "model.onnx", info["dataset"],
                                               info.get("calibration"), info.get("task", "classification"))
    return models


def mixed_row(evaluation: Evaluation, work: Path) -> dict:
    """quant-mixed's recipe for MIXED_BUDGET, chosen on the validation split,
    run on the evaluation data."""
    from .mixed_precision import LEVELS, Criterion, search_on, validation_config
    work.mkdir()
    found = search_on(validation_config(evaluation.config), Criterion("top1", MIXED_BUDGET), LEVELS, work)
    recipe = work / "recipe.json"
    recipe.write_text(json.dumps(found["recipe"]))
    report = evaluation.run("", recipe, tag="mixed")
    report["mixed"] = {"layers": found["layers"], "search": {k: v for k, v in found["search"].items()
                                                             if k != "steps"}}
    return report


def rewritten_row(evaluation: Evaluation, recipe: str, options: str, passes: str, work: Path) -> dict:
    """A recipe on the float model rewritten by `passes`: its own evaluation
    (the rewritten model is calibrated and quantized), its top-1 drop taken
    against `evaluation`'s float model, the original."""
    work.mkdir()
    config = dataclasses.replace(evaluation.config, float_passes=passes, layer_samples=0, verbose=False)
    try:
        rewritten = Evaluation(config, work)
        rewritten.prepare()
        report = rewritten.run(options, tag="rewritten")
    except EvaluationError as error:
        return {"recipe_name": recipe, "error": str(error).strip().splitlines()[-1]}
    # Every measure against the original float program: a rewrite that
    # changes the function (codebook weights, a relaxed ReLU6) is part of
    # what the row costs.
    if "float_top1" in report:
        report["rewritten_float_top1"] = report["float_top1"]
    report.update(evaluation.accuracy(evaluation.float_out, rewritten.quant_out))
    report["recipe_name"] = recipe
    return report


def qat_row(evaluation: Evaluation, bits: int, epochs: int, work: Path) -> dict:
    """quant-qat's fine-tune of the model at `bits`-bit weights for `epochs`
    epochs, exported as QDQ and evaluated as such (quant-opt's integer
    program against the QDQ program simulated in float); its top-1 drop
    against `evaluation`'s float model, the original."""
    import onnx
    from . import qat
    work.mkdir()
    model = onnx.load(str(evaluation.config.model))
    module, log = qat.fine_tune(model, evaluation.config.data, bits, epochs, verbose=False)
    path = work / "model-qat.onnx"
    onnx.save(qat.export_qdq(model, module, bits), str(path))
    config = dataclasses.replace(evaluation.config, model=path, layer_samples=0, verbose=False)
    exported = Evaluation(config, work)
    exported.prepare()
    report = exported.run_qdq()
    report["qat"] = {"epochs": epochs, "weight_bits": bits, "log": log}
    if "quantized_top1" in report and evaluation.y_eval is not None:
        report["qdq_float_top1"] = report["float_top1"]
        report["float_top1"] = topk(evaluation.float_out, evaluation.y_eval, 1)
        report["top1_drop"] = report["float_top1"] - report["quantized_top1"]
    return report


def qat_runs(path: Path, data: str, task: str) -> bool:
    """Whether quant-qat can fine-tune this model (PyTorch installed, its
    data set's training split, all its ops implemented)."""
    import onnx
    from . import qat
    try:
        qat._torch()
        qat.plan(onnx.load(str(path)))
    except qat.QatError:  # no PyTorch, or an op quant-qat does not run
        return False
    return data in datasets.NAMES and task == "classification"


def sweep(names: list[str], recipes, limit: int | None, layer_samples: int, verbose: bool,
          pretrained: bool = False, batch: int = 100, peer: bool = True, mixed: bool = True,
          rewrite_recipes=(), qat_epochs: int = 0, fallback: bool = False) -> list[dict]:
    models = bundled_models(pretrained)
    results = []
    for name in names:
        if name not in models:
            raise EvaluationError(f"no bundled model '{name}' (there are: {', '.join(models)})")
        path, data, calibration, task = models[name]
        config = Config(model=path, data=data, calibration_data=calibration, limit=limit, name=name,
                        verbose=verbose, batch=batch, task=task, layer_samples=layer_samples)
        with tempfile.TemporaryDirectory() as tmp:
            evaluation = Evaluation(config, Path(tmp))
            evaluation.prepare()
            rows = []
            for index, (recipe, options) in enumerate(recipes):
                if verbose:
                    print(f"{name}: {recipe}", file=sys.stderr)
                try:
                    report = evaluation.run(options, layer_samples=layer_samples if index == 0 else 0,
                                            tag=f"recipe{index}")
                except EvaluationError as error:
                    # A recipe the compiler refuses for this model is a
                    # result too: say why in the table.
                    report = {"error": str(error).strip().splitlines()[-1]}
                report["recipe_name"] = recipe
                rows.append(report)
            if fallback and rows and rows[0].get("layers"):
                if verbose:
                    print(f"{name}: {FALLBACK}", file=sys.stderr)
                from dataclasses import replace
                from .evaluate import fallback_16bit
                try:
                    report = fallback_16bit(evaluation, rows[0],
                                            replace(config, options=recipes[0][1], fallback_sqnr=FALLBACK_DB),
                                            Path(tmp))
                    report.pop("layers", None)  # the first row's table is the one shown
                    report.pop("bit_exactness", None)
                except EvaluationError as error:
                    report = {"error": str(error).strip().splitlines()[-1]}
                report["recipe_name"] = FALLBACK
                rows.append(report)
            for recipe, options, passes in rewrite_recipes:
                if verbose:
                    print(f"{name}: {recipe}", file=sys.stderr)
                rows.append(rewritten_row(evaluation, recipe, options, passes, Path(tmp) / f"rewrite{len(rows)}"))
            if qat_epochs > 0 and qat_runs(path, data, task):
                for bits in QAT_BITS:
                    name_qat = qat_name(bits, qat_epochs)
                    if verbose:
                        print(f"{name}: {name_qat}", file=sys.stderr)
                    from .qat import QatError
                    try:
                        report = qat_row(evaluation, bits, qat_epochs, Path(tmp) / f"qat{bits}")
                    except (EvaluationError, QatError) as error:
                        report = {"error": str(error).strip().splitlines()[-1]}
                    report["recipe_name"] = name_qat
                    rows.append(report)
            if mixed and data in datasets.NAMES and calibration is None and task == "classification":
                if verbose:
                    print(f"{name}: {MIXED}", file=sys.stderr)
                try:
                    report = mixed_row(evaluation, Path(tmp) / "mixed")
                except EvaluationError as error:
                    report = {"error": str(error).strip().splitlines()[-1]}
                report["recipe_name"] = MIXED
                rows.append(report)
            if peer:
                if verbose:
                    print(f"{name}: {PEER}", file=sys.stderr)
                rows.append(onnxruntime_peer(path, evaluation.x_cal, evaluation.x_eval, evaluation.y_eval,
                                             evaluation.float_out, evaluation.batch, Path(tmp), task))
                if any("activation-dynamic" in options for _, options in recipes):
                    if verbose:
                        print(f"{name}: {PEER_DYNAMIC}", file=sys.stderr)
                    try:
                        rows.append(onnxruntime_peer(path, evaluation.x_cal, evaluation.x_eval,
                                                     evaluation.y_eval, evaluation.float_out, evaluation.batch,
                                                     Path(tmp), task, dynamic=True))
                    except Exception as error:  # onnxruntime's own kinds: a result too
                        rows.append({"recipe_name": PEER_DYNAMIC,
                                     "error": str(error).strip().splitlines()[-1][:200]})
        results.append({"name": name, "model": str(path.relative_to(ROOT)),
                        "data": Path(data).name if calibration else data,
                        "samples": len(evaluation.x_eval), "float_top1": evaluation_float_top1(rows),
                        "float_weight_bytes": rows[0].get("float_weight_bytes"), "recipes": rows})
    return results


def evaluation_float_top1(rows):
    for row in rows:
        if "float_top1" in row:
            return row["float_top1"]
    return None


def _row(result: dict, match) -> dict | None:
    """The first row of `result` whose name `match` accepts (a name, or a
    predicate on names) and that has a top-1 drop."""
    accept = match if callable(match) else (lambda name: name == match)
    return next((row for row in result["recipes"]
                 if accept(row["recipe_name"]) and row.get("top1_drop") is not None), None)


def _drop(row: dict | None) -> str:
    return "-" if row is None else f"{100 * row['top1_drop']:.2f}"


def answers(results: list[dict]) -> list[str]:
    """The section that answers the questions users quantize with, each
    cell taken from the rows of the tables below (top-1 drop in points
    against the original float model; '-' where a row is missing)."""
    results = [r for r in results if any(row.get("top1_drop") is not None for row in r["recipes"])]
    if not results:
        return []

    def qat(bits):
        return lambda name: name.startswith(f"W{bits}A8 per-channel, QAT (")

    def epochs(result, bits):
        row = _row(result, qat(bits))
        return f" ({row['qat']['epochs']} epochs)" if row and "qat" in row else ""

    def mixed(result):
        row, base = _row(result, MIXED), _row(result, RECIPES[0][0])
        if row is None:
            return "-"
        return (f"{_drop(row)} at {row.get('quantized_weight_bytes', '-')} B "
                f"(W8A8: {_drop(base)} at {base.get('quantized_weight_bytes', '-') if base else '-'} B)")

    def pair(result, first, *others):
        return " -> ".join(_drop(_row(result, name)) for name in (first, *others))

    questions = [
        ("PTQ -> QAT, W8A8 per-channel", lambda r: pair(r, RECIPES[0][0], qat(8)) + epochs(r, 8)),
        ("PTQ -> QAT, W4A8 per-channel", lambda r: pair(r, "W4A8 per-channel", qat(4)) + epochs(r, 4)),
        ("4-bit weights: uniform -> k-means codebook",
         lambda r: pair(r, "W4A8 per-channel", lambda name: "codebook" in name and name.startswith("W4"))),
        (f"mixed precision for a {MIXED_BUDGET}-point budget: drop at weight size", mixed),
        ("per-tensor W8A8: as is -> cross-layer equalization",
         lambda r: pair(r, "W8A8 per-tensor", "W8A8 per-tensor + cross-layer equalization")),
        ("W4A8 per-channel: nearest -> GPTQ -> bias correction",
         lambda r: pair(r, "W4A8 per-channel", "W4A8 per-channel + GPTQ", "W4A8 per-channel + bias correction")),
        ("W8A8: quant-opt -> ONNX Runtime quantize_static (peer)", lambda r: pair(r, RECIPES[0][0], PEER)),
        ("W8A8 dynamic: quant-opt per-token -> per-tensor -> ONNX Runtime quantize_dynamic (peer)",
         lambda r: pair(r, RECIPES[12][0], RECIPES[13][0], PEER_DYNAMIC)),
    ]
    lines = ["## What the measurements answer", "",
             "Top-1 drop in points against each model's float top-1, taken from the tables below "
             "(`a -> b`: the same model without and with the method; `-`: no such row, e.g. QAT on a "
             "model whose ops quant-qat does not run). ONNX Runtime's `quantize_static` is the peer "
             "with the same method (W8A8 static, min/max); it has no QAT, codebook or per-tensor "
             "repair in its static quantizer, and its GPTQ (`MatMul4BitsQuantizer`) quantizes MatMul "
             "weights only, so it has no counterpart on these convolutional models. torch.ao's QAT "
             "and PTQ need the models' PyTorch code (FX-traceable modules), which the bundled ONNX "
             "files do not carry: not measured.", "",
             "| question | " + " | ".join(r["name"] for r in results) + " |",
             "|---|" + "---|" * len(results)]
    for question, cell in questions:
        lines.append(f"| {question} | " + " | ".join(cell(r) for r in results) + " |")
    return lines + [""]


def render(results: list[dict], command: str, plot: str | None) -> str:
    lines = ["# Accuracy", "",
             "How much accuracy quant-opt's post-training quantization loses on the bundled models, "
             "and where. Generated by", "", "```sh", command, "```", "",
             "Every number comes from running the lowered float program and the lowered integer "
             "program through the same CPU pipeline (qnn-cpu-pipeline) on the evaluation data; "
             "calibration uses the data set's calibration split (docs/Calibration.md). "
             "`quant-eval` (scripts/quant-eval) gives the same report for one model and one recipe, "
             "with the per-layer table; docs/Harness.md defines every number. *Weights* is the "
             "size of the parameters as the QDQ program holds them: quantized weights at their "
             "storage width, each scale at 4 bytes and zero point at the storage width, float "
             "biases at 4 bytes. "
             "Top-5 on 10 classes is near 100% for every model: judge on top-1, agreement and SQNR. "
             "The peers are measured in the same run: ONNX Runtime's "
             "`quantize_static` (QDQ format, per-channel symmetric i8 weights, u8 activations, min/max "
             "on the same calibration samples), executed by ONNX Runtime's CPU kernels on the same "
             "evaluation samples and compared with the same float program; where *dynamic* rows run "
             "(activation scales chosen at run time, docs/Quantization.md), also its "
             "`quantize_dynamic` (per-channel i8 weights, u8 activations per tensor at run time). "
             "The rows *+ SmoothQuant* rewrite the float model with `qnn-smooth-quant` (LayerNorm "
             "outputs read only by matmuls; a no-op elsewhere, e.g. on post-LN encoders); the row "
             f"*{FALLBACK}* is the first row requantized by quant-eval's automatic fallback, the "
             "activations it chose listed under the table. The row before the peers, "
             f"*{MIXED}*, is the recipe `scripts/quant-mixed --budget {MIXED_BUDGET}` chooses for the "
             "model (each layer's weights at 4, 8 or 16 bits or float), searched on the data set's "
             "validation split (training images, not these) with a 90% confidence margin, then "
             "evaluated here like the other rows (docs/Harness.md). The rows *+ cross-layer "
             "equalization* quantize the float model rewritten by `qnn-equalize-cross-layer` "
             "(docs/Quantization.md; a ReLU6 between equalized convolutions becomes a ReLU), "
             "calibrated again; their drop is against the original float model's top-1, their "
             "agreement and SQNR against the rewritten one's. The rows *+ GPTQ* and *+ bias "
             "correction* rewrite it likewise with `qnn-round-weights-gptq` and `qnn-correct-bias` "
             "(4-bit weights rounded from the calibration split's contraction statistics; "
             "docs/Quantization.md). "
             "The rows *QAT (N epochs, quant-qat)* "
             "are the model fine-tuned by `scripts/quant-qat` for N epochs of the training split with "
             "fake quantization (docs/Quantization.md, \"Quantization-aware fine-tuning\"), exported "
             "as a QDQ model and evaluated as quant-eval evaluates QDQ models: top-1 of quant-opt's "
             "integer program, its drop against the original float model, agreement and SQNR "
             "against the QDQ program simulated in float; only for models whose ops quant-qat runs "
             "in PyTorch (not the transformer).",
             ""]
    if any(r.get("onnxruntime_int8_exact") is False for result in results for r in result["recipes"]):
        from .ort_quantize import INEXACT_INT8_NOTE
        lines += [INEXACT_INT8_NOTE, ""]
    lines += answers(results)
    if plot:
        lines += [f"![accuracy drop against weight bytes]({plot})", ""]
    for result in results:
        lines += [f"## {result['name']} (`{result['model']}`, {result['data']}, {result['samples']} "
                  "evaluation samples)", ""]
        float_top1 = result["float_top1"]
        accuracy = (f"top-1 {100 * float_top1:.2f}%" if float_top1 is not None
                    else "no labels (judged by agreement with float and SQNR)")
        lines += [f"Float: {accuracy}, weights {result['float_weight_bytes']} bytes.", "",
                  "| recipe | top-1 (%) | drop (points) | agreement (%) | SQNR (dB) | sample cosine | weights (bytes) |",
                  "|---|---|---|---|---|---|---|"]
        for row in result["recipes"]:
            if "error" in row:
                lines.append(f"| {row['recipe_name']} | not compiled: {row['error']} | | | | | |")
                continue
            top1, drop, agreement = row.get("quantized_top1"), row.get("top1_drop"), row.get("top1_agreement")
            sample_cosine = row["output"].get("sample_cosine")
            lines.append(f"| {row['recipe_name']} | {_fmt(100 * top1 if top1 is not None else None)} | "
                         f"{_fmt(100 * drop if drop is not None else None)} | "
                         f"{_fmt(100 * agreement if agreement is not None else None)} | "
                         f"{_fmt(row['output']['sqnr_db'], 1)} | "
                         f"{_fmt(sample_cosine, 5) if sample_cosine is not None else '-'} | "
                         f"{row.get('quantized_weight_bytes', '-')} |")
        first = result["recipes"][0]
        if first.get("layers"):
            worst = [layer for layer in first["layers"][:5]]
            lines += ["", f"Worst layers under {first['recipe_name']} (local SQNR: the layer alone, fed "
                      "the quantized program's inputs):", ""]
            lines += [f"- `{layer['id']}` ({layer['ops']}): local {_fmt(layer['local']['sqnr_db'], 1)} dB, "
                      f"propagated {_fmt(layer['propagated']['sqnr_db'], 1)} dB" for layer in worst]
        for row in result["recipes"]:
            if row.get("note"):
                lines += ["", f"{row['recipe_name']}: {row['note']}."]
            chosen = row.get("fallback_16bit", {}).get("layers")
            if row["recipe_name"] == FALLBACK and chosen is not None:
                lines += ["", f"{FALLBACK}: " + (", ".join(f"`{c}`" for c in chosen) + " at 16 bits."
                                                  if chosen else "no activation below the threshold.")]
        lines.append("")
    return "\n".join(lines)


def write_plot(results: list[dict], path: Path) -> None:
    """Top-1 drop against weight bytes, a panel per model (log sizes; a
    symmetric-log drop axis, so that one collapse does not flatten the
    rest); recipes that lose half a point or more are labelled."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    results = [r for r in results if any("top1_drop" in row for row in r["recipes"])]
    figure, panels = plt.subplots(1, len(results), figsize=(4 * len(results), 4), squeeze=False)
    for axes, result in zip(panels[0], results):
        rows = [r for r in result["recipes"] if "top1_drop" in r and "quantized_weight_bytes" in r]
        axes.scatter([result["float_weight_bytes"]], [0.0], marker="s", color="black", label="float")
        axes.scatter([r["quantized_weight_bytes"] for r in rows], [100 * r["top1_drop"] for r in rows],
                     label="quant-opt recipes")
        for r in rows:
            if 100 * r["top1_drop"] >= 0.5:
                axes.annotate(r["recipe_name"].split(" (")[0], (r["quantized_weight_bytes"], 100 * r["top1_drop"]),
                              fontsize=7, xytext=(4, 2), textcoords="offset points")
        axes.set_xscale("log")
        axes.set_yscale("symlog", linthresh=1.0)
        axes.axhline(0, color="grey", linewidth=0.5)
        axes.set_title(result["name"], fontsize=10)
        axes.set_xlabel("weights (bytes)")
    panels[0][0].set_ylabel("top-1 drop (points, symlog)")
    panels[0][0].legend(fontsize=7, loc="upper right")
    figure.suptitle("quant-opt: accuracy drop against model size")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="quant-sweep", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated bundled models (default: all in models/)")
    parser.add_argument("--short", action="store_true",
                        help="digits-cnn with four recipes, for a quick look")
    parser.add_argument("--limit", type=int, help="evaluate the first N samples of each data set")
    parser.add_argument("--pretrained", action="store_true",
                        help="also the pretrained models models/pretrained.py prepared")
    parser.add_argument("--batch", type=int, default=100, help="samples per call (default: 100)")
    parser.add_argument("--recipe-set", choices=("full", "short", "codebook", "transformer"), default=None,
                        help="the recipes: all of them, or W8A8 per-channel, per-tensor, W4A8 and "
                             "W8A16, or (codebook) W8A8 and uniform against k-means codebook weights "
                             "at 4 and 3 bits, or (transformer) static W8A8, static + SmoothQuant, "
                             "dynamic per-token and per-tensor W8A8 and W8A16 (default: full, short "
                             "with --short)")
    parser.add_argument("--no-peer", action="store_true",
                        help="leave out the onnxruntime quantize_static row")
    parser.add_argument("--no-mixed", action="store_true",
                        help=f"leave out the automatic mixed-precision row ({MIXED})")
    parser.add_argument("--qat-epochs", type=int, default=QAT_EPOCHS,
                        help="epochs of the quantization-aware fine-tuning rows (quant-qat, W8A8 and "
                             f"W4A8; needs PyTorch; 0: leave them out; default: {QAT_EPOCHS})")
    parser.add_argument("--layer-samples", type=int, default=200,
                        help="samples for the per-layer table of the first recipe (0: none)")
    parser.add_argument("-o", "--output", type=Path, help="Markdown file to write (e.g. docs/Accuracy.md)")
    parser.add_argument("--plot", type=Path, help="PNG plot to write next to it")
    parser.add_argument("--json", type=Path, help="all results as JSON")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="write -o and --plot from an earlier run's --json, running nothing")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        return _run(args, argv)
    except (EvaluationError, OSError, json.JSONDecodeError) as error:  # OSError: a missing tool or file
        print(f"quant-sweep: error: {error}", file=sys.stderr)
        return 1


def _run(args, argv) -> int:
    """quant-sweep with parsed arguments."""
    if args.render:
        results = json.loads(args.render.read_text())
        for result in results:  # JSON wrote infinities as strings
            for row in result["recipes"]:
                if "output" in row:
                    row["output"]["sqnr_db"] = float(row["output"]["sqnr_db"])
        command = results[0].get("command", "scripts/quant-sweep") if results else "scripts/quant-sweep"
        return _write(results, command, args, results[0].get("seconds") if results else None)
    models = bundled_models(args.pretrained)
    names = args.models.split(",") if args.models else (["digits-cnn"] if args.short else list(models))
    recipe_set = args.recipe_set or ("short" if args.short else "full")
    recipes = {"short": SHORT_RECIPES, "codebook": CODEBOOK_RECIPES,
               "transformer": TRANSFORMER_RECIPES}.get(recipe_set, RECIPES)
    rewrite = {"full": REWRITE_RECIPES, "codebook": CODEBOOK_REWRITE_RECIPES,
               "transformer": TRANSFORMER_REWRITE_RECIPES}.get(recipe_set, ())
    started = time.time()
    results = sweep(names, recipes, args.limit, args.layer_samples, not args.quiet, args.pretrained,
                    args.batch, peer=not args.no_peer and not args.short,
                    mixed=not args.no_mixed and not args.short,
                    rewrite_recipes=rewrite,
                    qat_epochs=args.qat_epochs if recipe_set == "full" else 0,
                    fallback=recipe_set == "transformer")
    command = ("scripts/quant-sweep " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    seconds = round(time.time() - started)
    for result in results:
        result["command"], result["seconds"] = command, seconds
    return _write(results, command, args, seconds)


def _write(results, command, args, seconds) -> int:
    plot_ref = None
    if args.plot:
        write_plot(results, args.plot)
        if args.output:
            plot_ref = str(args.plot.resolve().relative_to(args.output.resolve().parent)) \
                if args.plot.resolve().is_relative_to(args.output.resolve().parent) else str(args.plot)
    text = render(results, command, plot_ref)
    if seconds is not None:
        text += f"\n_The sweep took {seconds} s on one 2-core CPU._\n"
    if args.output:
        args.output.write_text(text)
    if args.json:
        from .evaluate import _finite
        args.json.write_text(json.dumps(_finite(results), indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
