"""Python side of quant-opt: an independent NumPy reference of docs/Semantics.md,
the ONNX importer, the accuracy harness, and quant-opt itself in process
(quant_opt.native, when its extension is built):

    import quant_opt
    text = quant_opt.quantize_onnx("model.onnx", calibration_images, batch=64)
    logits, = quant_opt.compile(text)(images)
"""


def __getattr__(name):
    # The extension is loaded on first use, not on import: the reference and
    # the harness work without it.
    if name in ("compile", "opt", "quantize_onnx"):
        from . import native
        return getattr(native, name)
    raise AttributeError(f"module 'quant_opt' has no attribute '{name}'")
