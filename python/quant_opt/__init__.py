"""Python side of quant-opt: an independent NumPy reference of docs/Semantics.md."""
