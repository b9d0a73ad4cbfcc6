#!/usr/bin/env python3
"""Extract the objects of the gpu.binary ops in an MLIR file.

qnn-gpu-pipeline (docs/GPU.md) leaves its kernels serialized in
`gpu.binary @name [#gpu.object<#nvvm.target<...>, ..., bin = "...">]`;
the string is printed with MLIR's escapes (`\\` for a backslash, `\XX` in
hex for any other byte that is not printable or is a quote). This script
reads the module (a file or stdin) and writes each object's bytes:

  gpu-binary-objects.py in.mlir            # every object to stdout
  gpu-binary-objects.py in.mlir -o DIR     # DIR/<binary>.<ptx|cubin|fatbin>
  gpu-binary-objects.py in.mlir --ptxas PTXAS --arch sm_90
      # assemble every PTX object with ptxas, one line per object; exit 1
      # with ptxas's message if one fails

Used by the lit tests to hand PTX to ptxas; needs nothing but Python 3.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

BINARY = re.compile(r"gpu\.binary\s+@([\w$.]+)")
OBJECT_START = re.compile(r"#gpu\.object<")


def unescape(text, start):
    """Decode the MLIR string literal whose opening quote is at `start`."""
    out = bytearray()
    i = start + 1
    while True:
        c = text[i]
        if c == '"':
            return bytes(out), i + 1
        if c == "\\":
            nxt = text[i + 1]
            if nxt == "\\":
                out.append(0x5C)
                i += 2
            elif nxt in "nt\"":
                out.extend({"n": b"\n", "t": b"\t", '"': b'"'}[nxt])
                i += 2
            else:
                out.append(int(text[i + 1 : i + 3], 16))
                i += 3
        else:
            out.extend(c.encode("utf-8"))
            i += 1


def objects(text):
    """Yield (binary name, format, bytes) for every object in `text`.

    An object prints as `#gpu.object<TARGET, [properties = {...},]
    [assembly|bin|offload =] "PAYLOAD">` (no keyword: fatbin); the payload
    is the one string outside the target's `<>` and the properties' `{}`.
    """
    for match in BINARY.finditer(text):
        name = match.group(1)
        pos = match.end()
        nxt = BINARY.search(text, pos)
        stop = nxt.start() if nxt else len(text)
        while True:
            obj = OBJECT_START.search(text, pos, stop)
            if not obj:
                break
            i, depth, keyword_from = obj.end(), 0, obj.end()
            while True:
                c = text[i]
                if c == '"':
                    if depth == 0:
                        break
                    _, i = unescape(text, i)
                    continue
                if c in "<{[(":
                    depth += 1
                elif c in ">}])":
                    depth -= 1
                elif c == "," and depth == 0:
                    keyword_from = i + 1
                i += 1
            keyword = text[keyword_from:i].strip().rstrip("=").strip()
            fmt = {"assembly": "isa", "bin": "bin", "offload": "offload"}.get(
                keyword, "fatbin"
            )
            data, pos = unescape(text, i)
            yield name, fmt, data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", default="-")
    parser.add_argument("-o", "--output-dir")
    parser.add_argument("--ptxas", help="assemble each PTX object with this ptxas")
    parser.add_argument("--arch", default="sm_80", help="ptxas -arch")
    args = parser.parse_args()
    text = sys.stdin.read() if args.input == "-" else open(args.input).read()
    found = list(objects(text))
    if not found:
        sys.exit("gpu-binary-objects.py: no gpu.binary object in the input")
    if args.ptxas:
        failed = False
        for name, fmt, data in found:
            if fmt != "isa":
                sys.exit(f"gpu-binary-objects.py: {name} is not PTX ({fmt})")
            with tempfile.TemporaryDirectory() as tmp:
                ptx = os.path.join(tmp, f"{name}.ptx")
                with open(ptx, "wb") as f:
                    f.write(data.rstrip(b"\0"))
                run = subprocess.run(
                    [args.ptxas, f"-arch={args.arch}", ptx, "-o", os.path.join(tmp, "out.cubin")],
                    capture_output=True, text=True,
                )
            if run.returncode != 0:
                failed = True
                print(f"{name}: ptxas {args.arch} FAILED\n{run.stderr}")
            else:
                print(f"{name}: ptxas {args.arch} ok")
        sys.exit(1 if failed else 0)
    suffix = {"isa": "ptx", "bin": "cubin", "fatbin": "fatbin", "offload": "bc"}
    for name, fmt, data in found:
        if args.output_dir:
            os.makedirs(args.output_dir, exist_ok=True)
            path = os.path.join(args.output_dir, f"{name}.{suffix[fmt]}")
            with open(path, "wb") as f:
                f.write(data)
        else:
            sys.stdout.buffer.write(data)
            if not data.endswith(b"\n"):
                sys.stdout.buffer.write(b"\n")


if __name__ == "__main__":
    main()
