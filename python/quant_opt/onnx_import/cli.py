"""The command line: python -m quant_opt.onnx_import model.onnx -o model.mlir
[--batch N] [--function NAME]."""

from __future__ import annotations

import argparse
import sys

import onnx

from .importer import import_model
from .values import UnsupportedModelError


def main(argv=None) -> int:
    from . import __doc__ as package_doc
    parser = argparse.ArgumentParser(prog="python -m quant_opt.onnx_import",
                                     description=package_doc.split("\n")[0])
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("-o", "--output", default="-", help="the .mlir file to write (default: stdout)")
    parser.add_argument("--batch", type=int, default=1, help="the size of every symbolic dimension")
    parser.add_argument("--function", default="main", help="the name of the function")
    args = parser.parse_args(argv)
    try:
        model = onnx.load(args.model)
    except Exception as error:  # onnx raises several kinds
        print(f"error: cannot read ONNX model '{args.model}': {error}", file=sys.stderr)
        return 1
    try:
        text = import_model(model, args.batch, args.function)
    except UnsupportedModelError as error:
        print(f"error: {args.model}: {error}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w") as f:
                f.write(text)
        except OSError as error:
            print(f"error: cannot write '{args.output}': {error.strerror}", file=sys.stderr)
            return 1
    return 0
