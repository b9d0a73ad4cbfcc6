"""The command line: python -m quant_opt.onnx_import model.onnx -o model.mlir
[--batch N] [--function NAME] [--constant NAME=values.npy ...]."""

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
    parser.add_argument("--constant", action="append", default=[], metavar="NAME=FILE.npy",
                        help="bind the graph input NAME to the array in FILE.npy: it becomes a constant "
                             "of the model (a weight, shape or axes an exporter left as an input)")
    args = parser.parse_args(argv)
    import numpy as np
    constants = {}
    for binding in args.constant:
        name, sep, path = binding.partition("=")
        if not sep or not name:
            print(f"error: --constant {binding}: expected NAME=FILE.npy", file=sys.stderr)
            return 1
        try:
            constants[name] = np.load(path)
        except (OSError, ValueError) as error:
            print(f"error: --constant {binding}: cannot read '{path}': {error}", file=sys.stderr)
            return 1
    try:
        model = onnx.load(args.model)
    except Exception as error:  # onnx raises several kinds
        print(f"error: cannot read ONNX model '{args.model}': {error}", file=sys.stderr)
        return 1
    try:
        text = import_model(model, args.batch, args.function, constants=constants)
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
