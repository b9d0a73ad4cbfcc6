"""ONNX Runtime's own post-training quantizer, as the peer uses it: QDQ
format, per-channel symmetric i8 weights, u8 activations, min/max
calibration. quant-sweep's peer row and the QDQ tests use it; from the
command line it writes the QDQ model for `scripts/quant-eval` to evaluate as
it is:

    python -m quant_opt.ort_quantize model.onnx -o model-qdq.onnx --data digits
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path


# What quant-eval and quant-sweep reports say where onnxruntime_int8_is_exact()
# is false.
INEXACT_INT8_NOTE = ("ONNX Runtime's int8 kernels saturate on this CPU (no VNNI: u8 x s8 pair sums in "
                     "i16), so its numbers here are not those of an exact integer program; quant-opt's "
                     "are (docs/Harness.md, \"ONNX Runtime on CPUs without VNNI\").")


@functools.cache
def onnxruntime_int8_is_exact() -> bool:
    """Whether ONNX Runtime's CPU int8 contractions (MatMulInteger,
    QLinearConv, QGemm, ...: MLAS's u8 x s8 kernels) sum exactly in i32 on
    this machine. On x86 CPUs without VNNI (AMD Zen 3, Intel before Ice
    Lake) they add each pair of u8 x s8 products in i16 with saturation
    (vpmaddubsw), so large activations meeting large weights are clipped
    (docs/Harness.md, "ONNX Runtime on CPUs without VNNI"). Asked of
    onnxruntime itself, not of /proc/cpuinfo: 255 x 127 summed four times is
    129540 exactly and 65534 saturated."""
    import numpy as np
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "probe",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 1])],
        [numpy_helper.from_array(np.full((4, 1), 127, np.int8), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what onnxruntime 1.19 reads
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"a": np.full((1, 4), 255, np.uint8)})
    return int(y[0, 0]) == 4 * 255 * 127


def quantize_with_onnxruntime(model_path: Path, x_cal, output: Path, batch: int = 100,
                              work: Path | None = None, quant_format: str = "QDQ") -> None:
    """Writes ONNX Runtime's W8A8 per-channel QDQ quantization of
    `model_path`, calibrated (min/max) on the samples `x_cal`, to `output`
    (`quant_format` "QOperator": the same quantization as QLinear ops)."""
    import onnxruntime
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = onnxruntime.InferenceSession(
        str(model_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.start = 0

        def get_next(self):
            if self.start >= len(x_cal):
                return None
            chunk = x_cal[self.start:self.start + batch]
            self.start += batch
            return {input_name: chunk}

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model_path), str(prepared))
        quantize_static(str(prepared), str(output), Reader(), quant_format=QuantFormat[quant_format],
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)


def quantize_dynamic_with_onnxruntime(model_path: Path, output: Path, work: Path | None = None,
                                      weight_type: str = "QInt8") -> None:
    """Writes ONNX Runtime's quantize_dynamic of `model_path` to `output`:
    per-channel `weight_type` (QInt8 or QUInt8) weights, u8 activations
    quantized per tensor at run time (DynamicQuantizeLinear); no
    calibration."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model_path), str(prepared))
        quantize_dynamic(str(prepared), str(output), per_channel=True, weight_type=QuantType[weight_type])


def main(argv=None) -> int:
    from .evaluate import EvaluationError, load_data
    parser = argparse.ArgumentParser(prog="python -m quant_opt.ort_quantize",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="the float ONNX model")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the QDQ model to write")
    parser.add_argument("--data", required=True,
                        help="calibration data: the 'calibration' split of fashion-mnist or digits, "
                             "or an .npz with x")
    parser.add_argument("--batch", type=int, default=100, help="samples per calibration call")
    args = parser.parse_args(argv)
    try:
        if not args.model.is_file():
            raise EvaluationError(f"model '{args.model}' does not exist")
        x_cal, _ = load_data(args.data, "calibration" if Path(args.data).suffix != ".npz" else "train")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        quantize_with_onnxruntime(args.model, x_cal, args.output, args.batch)
    except (EvaluationError, OSError) as error:
        print(f"ort_quantize: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: ONNX Runtime quantize_static, QDQ, W8A8 per-channel, "
          f"calibrated on {len(x_cal)} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
