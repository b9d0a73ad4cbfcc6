"""Ahead-of-time compilation: a module's function to an object file (or a
shared library) and a C header, so that a program calls the model with no
MLIR, JIT or Python at run time.

    python -m quant_opt.aot MODULE.mlir -o OUT_DIR [--name NAME]
        [--function main] [--cpu native|x86-64-v3|...] [--features +f,-g]
        [--shared]

writes OUT_DIR/NAME.o (and libNAME.so with --shared), OUT_DIR/NAME.h and,
when the object needs MLIR's memrefCopy, OUT_DIR/NAME_runtime.c.

With --device=cuda [--chip sm_80|sm_90] the module is lowered with the GPU
pipeline quant-run --device=cuda uses (`quant-run --print-gpu-pipeline`
names it: qnn-gpu-pipeline once it is built in): the kernels are embedded
in the object as a fatbin (cubin for the chip plus PTX), and the object
calls quant-opt's CUDA runtime (the mgpu* functions of
lib/Runtime/CUDA/CudaRuntime.cpp), which the program must link; the header
says how. The function still takes host buffers.

The steps are the JIT's (lib/Runner/Runner.cpp) written out as tools:

    quant-opt --qnn-cpu-pipeline="results-to-out-params=true cpu=CPU"
    | mlir-translate --mlir-to-llvmir | opt -O3 -mtriple=HOST -mcpu=CPU
    | llc -O3 -mtriple=HOST -mcpu=CPU -filetype=obj -relocation-model=pic

so the object computes what `native.compile(text, cpu=CPU)` computes, bit
for bit (python/tests/test_aot.py checks it). Before lowering, the function
is renamed NAME (its C entry is `_mlir_ciface_NAME`: several models link
into one program, and a function called main does not clash with the
program's), gets `llvm.emit_c_interface`, and its arguments
`bufferization.writable = false` (the code never writes into its inputs,
so the header can take them const). The object's malloc and free calls
are renamed to a small allocator linked into it (KEPT_BLOCKS_C), which
keeps large blocks for the thread's next call. After code generation every
symbol but the entry (and NAME_release) is made local (llvm-objcopy), so
two models' helpers do not clash.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .execution import ToolNotFoundError, find_tool

LLVM_BIN = Path(os.environ.get("QUANT_OPT_LLVM_BIN", "/usr/lib/llvm-22/bin"))

# Element types of arguments and results: MLIR name -> C type. Quantized
# types are passed as their storage type.
C_TYPES = {
    "f32": "float", "f64": "double",
    "i8": "int8_t", "i16": "int16_t", "i32": "int32_t", "i64": "int64_t",
    "si8": "int8_t", "si16": "int16_t", "si32": "int32_t", "si64": "int64_t",
    "ui8": "uint8_t", "ui16": "uint16_t", "ui32": "uint32_t", "ui64": "uint64_t",
    "u8": "uint8_t", "u16": "uint16_t", "u32": "uint32_t",
    "index": "int64_t",
}

# What the objects may call from the C library (and libm, linked with -lm).
LIBC = {"malloc", "free", "aligned_alloc", "posix_memalign", "calloc", "realloc",
        "memset", "memcpy", "memmove", "abort"}
LIBM_PREFIXES = ("exp", "log", "tanh", "sin", "cos", "tan", "pow", "sqrt", "erf",
                 "atan", "asin", "acos", "floor", "ceil", "round", "fma", "fmod",
                 "cbrt", "expm1", "log1p", "log2", "log10", "exp2", "rint", "nearbyint",
                 "trunc", "fabs", "copysign", "fmin", "fmax", "sinh", "cosh")

# The object's intermediate buffers: its malloc and free calls renamed to
# these (llvm-objcopy --redefine-sym), compiled with cc and linked into the
# object. Every call of the model allocates the same sizes, and glibc gives
# a freed block of 128 KiB or more back to the OS (munmap, or trimming the
# heap's top), so that the next call page-faults it in again: the b64
# fashion-transformer spent 42% of its time in the kernel (6.4 ms a call
# against 2.9 with the blocks kept). Blocks of KEEP_BYTES or more are kept
# per thread for that thread's next call instead; NAME_release frees them.
KEPT_BLOCKS_C = r"""
#include <stddef.h>
#include <stdlib.h>

enum { KEEP_BYTES = 64 * 1024 };

/* The header before each block: its size, and the next kept block; as
   aligned as malloc's blocks, so the block is too. */
typedef union NAME_block {
  struct { union NAME_block *next; size_t size; } kept;
  max_align_t alignment;
} NAME_block;

static _Thread_local NAME_block *NAME_kept_blocks;

void *NAME_block_alloc(size_t size) {
  if (size >= KEEP_BYTES)
    for (NAME_block **link = &NAME_kept_blocks; *link; link = &(*link)->kept.next)
      if ((*link)->kept.size == size) {
        NAME_block *block = *link;
        *link = block->kept.next;
        return block + 1;
      }
  if (size > (size_t)-1 - sizeof(NAME_block))
    return NULL;
  NAME_block *block = malloc(sizeof(NAME_block) + size);
  if (!block)
    return NULL;
  block->kept.size = size;
  return block + 1;
}

void NAME_block_free(void *pointer) {
  if (!pointer)
    return;
  NAME_block *block = (NAME_block *)pointer - 1;
  if (block->kept.size < KEEP_BYTES) {
    free(block);
    return;
  }
  block->kept.next = NAME_kept_blocks;
  NAME_kept_blocks = block;
}

void NAME_release(void) {
  while (NAME_kept_blocks) {
    NAME_block *block = NAME_kept_blocks;
    NAME_kept_blocks = block->kept.next;
    free(block);
  }
}
"""

# Allocation functions other than malloc and free: an object that calls one
# keeps the C library's (its blocks would reach NAME_block_free).
OTHER_ALLOCATION_FUNCTIONS = {"aligned_alloc", "posix_memalign", "calloc", "realloc"}


# MLIR's runner-utils memrefCopy (mlir/lib/ExecutionEngine/CRunnerUtils.cpp),
# for programs that copy between memrefs of non-identity layouts.
MEMREF_COPY_C = r"""
#include <stdint.h>
#include <string.h>

/* MLIR's UnrankedMemRefType: the rank and a ranked descriptor
   {allocated, aligned, offset, sizes[rank], strides[rank]}. */
typedef struct { int64_t rank; void *descriptor; } quant_opt_unranked_memref;

typedef struct {
  char *allocated, *aligned;
  int64_t offset;
  int64_t shape[]; /* sizes[rank], then strides[rank] */
} quant_opt_strided_memref;

void memrefCopy(int64_t element_size, quant_opt_unranked_memref *source,
                quant_opt_unranked_memref *target) {
  const quant_opt_strided_memref *src = source->descriptor;
  const quant_opt_strided_memref *dst = target->descriptor;
  int64_t rank = source->rank;
  const int64_t *sizes = src->shape;
  const int64_t *src_strides = src->shape + rank;
  const int64_t *dst_strides = dst->shape + rank;
  char *from = src->aligned + src->offset * element_size;
  char *to = dst->aligned + dst->offset * element_size;
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d)
    count *= sizes[d];
  if (count == 0)
    return;
  if (rank == 0) {
    memcpy(to, from, (size_t)element_size);
    return;
  }
  int64_t index[rank];
  for (int64_t d = 0; d < rank; ++d)
    index[d] = 0;
  int64_t src_offset = 0, dst_offset = 0;
  for (;;) {
    memcpy(to + dst_offset * element_size, from + src_offset * element_size,
           (size_t)element_size);
    int64_t d = rank - 1;
    for (; d >= 0; --d) {
      ++index[d];
      src_offset += src_strides[d];
      dst_offset += dst_strides[d];
      if (index[d] < sizes[d])
        break;
      src_offset -= sizes[d] * src_strides[d];
      dst_offset -= sizes[d] * dst_strides[d];
      index[d] = 0;
    }
    if (d < 0)
      return;
  }
}
"""


class AotError(Exception):
    """A bad input or a failed step; the message is one line for the user."""


@dataclass
class Buffer:
    """One argument or result of the function: a shaped type of static
    shape, passed as a memref descriptor."""
    shape: list[int]
    element: str  # the MLIR element type of the buffer (storage type)
    ctype: str

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


def _split_top_level(text: str, separator: str = ",") -> list[str]:
    """`text` split at the separators outside <>, (), [] and {}."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "<([{":
            depth += 1
        elif char in ">)]}" and not (char == ">" and i > 0 and text[i - 1] == "-"):
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _matching(text: str, open_index: int) -> int:
    """The index of the bracket that closes the one at `open_index` (strings
    skipped; the `>` of `->` is no bracket)."""
    pairs = {"(": ")", "<": ">", "{": "}", "[": "]"}
    stack, i = [], open_index
    while i < len(text):
        char = text[i]
        if char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char in pairs:
            stack.append(pairs[char])
        elif stack and char == stack[-1] and not (char == ">" and text[i - 1] == "-"):
            stack.pop()
            if not stack:
                return i
        i += 1
    raise AotError("unbalanced brackets in the function signature")


def _parse_type(text: str, what: str) -> Buffer:
    """A tensor or memref type of static shape with an identity layout."""
    match = re.fullmatch(r"(tensor|memref)<(.*)>", text.strip(), re.S)
    if not match:
        raise AotError(f"{what} has type {text.strip()}; only tensors and memrefs can be passed "
                       "(as memref descriptors)")
    parts = _split_top_level(match.group(2))
    if len(parts) != 1:
        raise AotError(f"{what} has type {text.strip()}; only identity layouts in the default "
                       "memory space are supported")
    body, shape = parts[0], []
    while True:
        dim = re.match(r"(\d+|\?|\*)x", body)
        if not dim:
            break
        if dim.group(1) in "?*":
            raise AotError(f"{what} has type {text.strip()}; only static shapes are supported")
        shape.append(int(dim.group(1)))
        body = body[dim.end():]
    element = body.strip()
    quantized = re.match(r"!quant\.(?:uniform|any|calibrated)<([iu])(\d+)", element)
    if quantized:
        element = f"{'i' if quantized.group(1) == 'i' else 'ui'}{quantized.group(2)}"
    if element not in C_TYPES:
        raise AotError(f"{what} has element type {body.strip()}, which has no C type here "
                       f"(supported: {', '.join(sorted(C_TYPES))})")
    return Buffer(shape, element, C_TYPES[element])


@dataclass
class Signature:
    inputs: list[Buffer]
    outputs: list[Buffer]
    text: str  # the module with the function renamed and annotated


def prepare_module(text: str, function: str, name: str) -> Signature:
    """Parses @function's signature in `text` (as quant-opt prints it) and
    returns it with the module text in which the function is @name, has a
    C interface and read-only arguments."""
    header = re.search(r"func\.func\s+(?:public\s+|private\s+)?@" + re.escape(function)
                       + r"\s*\(", text)
    if not header:
        found = re.findall(r"func\.func\s+(?:public\s+|private\s+|nested\s+)?@([\w$.-]+)", text)
        raise AotError(f"no function @{function} in the module (functions: "
                       f"{', '.join('@' + f for f in found) or 'none'})")
    if function != name and re.search(r"@" + re.escape(name) + r"(?![\w$.-])", text):
        raise AotError(f"the module already has a symbol @{name}: choose another --name")
    open_paren = header.end() - 1
    close_paren = _matching(text, open_paren)
    arguments = _split_top_level(text[open_paren + 1:close_paren])
    rest_start = close_paren + 1
    # Results: `-> T`, `-> (T, U)`, then maybe `attributes {...}`, then `{`.
    body_start = rest_start
    results_text = ""
    arrow = re.match(r"\s*->\s*", text[rest_start:])
    if arrow:
        position = rest_start + arrow.end()
        if text[position] == "(":
            end = _matching(text, position)
            results_text = text[position + 1:end]
            body_start = end + 1
        else:
            # One type, up to ` attributes` or the body's `{` at depth 0.
            depth, i = 0, position
            while i < len(text):
                if text[i] in "<([" or (text[i] == "{" and depth > 0):
                    depth += 1
                elif text[i] in ">)]" and not (text[i] == ">" and text[i - 1] == "-"):
                    depth -= 1
                elif text[i] == "}" and depth > 0:
                    depth -= 1
                elif depth == 0 and (text[i] == "{" or text.startswith(" attributes", i)):
                    break
                i += 1
            results_text = text[position:i]
            body_start = i

    inputs, new_arguments = [], []
    for index, argument in enumerate(arguments):
        match = re.match(r"(%[\w$.-]+)\s*:\s*(.*)$", argument, re.S)
        if not match:
            raise AotError(f"cannot read argument #{index} of @{function}: {argument}")
        # The type is everything before a top-level attribute dictionary.
        rest = match.group(2)
        attrs = ""
        brace = _find_top_level_brace(rest)
        if brace is not None:
            type_text, attrs = rest[:brace].strip(), rest[brace:].strip()
        else:
            type_text = rest.strip()
        inputs.append(_parse_type(type_text, f"argument #{index} of @{function}"))
        if attrs:
            inner = attrs[1:-1].strip()
            if "bufferization.writable" in inner:
                new_attrs = attrs
            else:
                new_attrs = "{" + (inner + ", " if inner else "") + "bufferization.writable = false}"
        else:
            new_attrs = "{bufferization.writable = false}"
        new_arguments.append(f"{match.group(1)}: {type_text} {new_attrs}")
    outputs = []
    for index, result in enumerate(_split_top_level(results_text)):
        brace = _find_top_level_brace(result)
        result = result if brace is None else result[:brace]
        outputs.append(_parse_type(result, f"result #{index} of @{function}"))

    # The function's own attributes: add llvm.emit_c_interface.
    tail = text[body_start:]
    attributes = re.match(r"\s*attributes\s*\{", tail)
    if attributes:
        brace = body_start + attributes.end() - 1
        tail = text[body_start:brace + 1] + "llvm.emit_c_interface, " + text[brace + 1:]
    else:
        tail = " attributes {llvm.emit_c_interface}" + tail
    new_text = (text[:header.start()] + text[header.start():open_paren].replace(
        "@" + function, "@" + name) + "(" + ", ".join(new_arguments) + ")"
        + text[close_paren + 1:body_start] + tail)
    if function != name:
        # Other references (calls) to the function.
        new_text = re.sub(r"@" + re.escape(function) + r"(?![\w$.-])", "@" + name, new_text)
    return Signature(inputs, outputs, new_text)


def _find_top_level_brace(text: str):
    """The index of the first `{` outside <>, () and [] in `text`, or None."""
    depth = 0
    for i, char in enumerate(text):
        if char in "<([":
            depth += 1
        elif char in ">)]" and not (char == ">" and i > 0 and text[i - 1] == "-"):
            depth -= 1
        elif char == "{" and depth == 0:
            return i
    return None


def _run(cmd: list[str], what: str, stdin: str | None = None) -> str:
    try:
        result = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    except FileNotFoundError:
        raise AotError(f"{cmd[0]} is missing (LLVM 22's tools: scripts/setup.sh installs them)")
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "error:" in line] or lines or ["(no message)"]
        raise AotError(f"{what} failed: {errors[0].strip()}")
    return result.stdout


def host_cpu() -> str:
    """LLVM's name of this machine's CPU (what -mcpu=native means)."""
    version = _run([str(LLVM_BIN / "llc"), "--version"], "llc --version")
    match = re.search(r"Host CPU:\s*(\S+)", version)
    return match.group(1) if match else "native"


# Libraries a C program links from the system by these names: a model's
# lib<name>.so named like one would be shadowed by it (or shadow it).
SYSTEM_LIBRARIES = frozenset({"c", "m", "dl", "rt", "pthread", "util", "gcc", "gcc_s", "stdc++",
                              "cuda", "cudart", "z"})


def c_identifier(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    return name if name and not name[0].isdigit() else "_" + name


def _struct_name(name: str, buffer: Buffer) -> str:
    return f"{name}_memref_{buffer.element}_{buffer.rank}d"


# What quant-opt's CUDA runtime (lib/Runtime/CUDA/CudaRuntime.cpp) defines:
# the functions MLIR 22's GPU lowering calls.
CUDA_RUNTIME_FUNCTIONS = {
    "mgpuModuleLoad", "mgpuModuleLoadJIT", "mgpuModuleUnload", "mgpuModuleGetFunction",
    "mgpuLaunchKernel", "mgpuLaunchClusterKernel", "mgpuStreamCreate", "mgpuStreamDestroy",
    "mgpuStreamSynchronize", "mgpuStreamWaitEvent", "mgpuEventCreate", "mgpuEventDestroy",
    "mgpuEventSynchronize", "mgpuEventRecord", "mgpuMemAlloc", "mgpuMemFree", "mgpuMemcpy",
    "mgpuMemset16", "mgpuMemset32", "mgpuMemHostRegisterMemRef", "mgpuMemHostUnregisterMemRef",
    "mgpuSetDefaultDevice", "mgpuTensorMapEncodeTiledMemref",
}
CUDA_RUNTIME_SOURCE = "lib/Runtime/CUDA/CudaRuntime.cpp"
CUDA_CHIPS = ("sm_80", "sm_90")


def gpu_pipeline(chip: str, upstream: bool = False, options: str = "") -> str:
    """The pass pipeline of --device=cuda, from the one place that names it
    (qnn::getGPUPipeline, printed by quant-run): qnn-gpu-pipeline when it
    is built in, else (or with `upstream`) upstream's; `options` are more
    qnn-gpu-pipeline options ("tile-m=128 warps-n=4")."""
    if chip not in CUDA_CHIPS:
        raise AotError(f"GPU chip '{chip}' is not one of {', '.join(CUDA_CHIPS)}")
    return _run([find_tool("quant-run"), "--print-gpu-pipeline", f"--gpu-chip={chip}"]
                + (["--upstream-gpu-pipeline"] if upstream else [])
                + ([f"--gpu-pipeline-options={options}"] if options else []),
                "quant-run --print-gpu-pipeline").strip()


def generate_header(name: str, signature: Signature, cpu: str, features: str,
                    undefined: list[str], runtime: bool, libm: bool,
                    chip: str | None = None, keeps_blocks: bool = False) -> str:
    guard = f"{name.upper()}_H"
    cuda = chip is not None
    if cuda:
        target = [
            f" * The model, compiled ahead of time for NVIDIA GPUs ({chip}: a fatbin with",
            f" * its cubin and PTX, which the driver compiles for newer GPUs), with host",
            f" * code for the CPU '{cpu}'" + (f" with features {features}" if features else "")
            + ".",
            " *",
            " * It calls quant-opt's CUDA runtime (the mgpu* functions): link the",
            " * library CMake builds, -L<build>/lib -lquant_opt_cuda_runtime",
            " * -Wl,-rpath,<build>/lib, or build it from the source alone:",
            " *   g++ -O2 -std=c++17 -shared -fPIC -I$CUDA/include -I<src>/include",
            f" *     <src>/{CUDA_RUNTIME_SOURCE} -o libquant_opt_cuda_runtime.so -ldl",
            " * (CUDA headers only: the driver, libcuda.so.1, is opened when the model",
            " * first runs; with none, the call prints why and aborts).",
            " * Inputs and outputs are host buffers: the model copies them to and from",
            " * the GPU.",
        ]
    else:
        target = [
            f" * The model, compiled ahead of time for the CPU '{cpu}'"
            + (f" with features {features}" if features else "") + ": it runs on",
            " * CPUs with every instruction set that one has.",
        ]
    lines = [
        f"/* {name}.h: generated by quant-opt's quant-aot; do not edit.",
        " *",
        *target,
        " *",
        f" * Link with {name}.o (or -l{name} with lib{name}.so)"
        + (f", {name}_runtime.c" if runtime else "")
        + (", the CUDA runtime" if cuda else "") + (" and -lm" if libm else "") + ".",
        " * The object's undefined symbols (nm -u): "
        + (", ".join(undefined) if undefined else "none") + ".",
    ]
    if runtime:
        lines.append(f" * memrefCopy (MLIR's runner utilities) is in {name}_runtime.c.")
    lines += [
        " *",
        f" * {name}_run: dense row-major buffers; inputs are only read, outputs",
        " * written. Intermediate buffers come from malloc and are freed before",
        " * it returns" + (";" if keeps_blocks else "."),
    ]
    if keeps_blocks:
        lines += [
            " * those of 64 KiB or more are kept for the calling thread's next call",
            " * (every call allocates the same sizes; given back to the OS, they would",
            " * be page-faulted in again on each call). "
            f"{name}_release() frees what the",
            " * calling thread keeps (call it before the thread ends, or when done).",
        ]
    lines += [
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stdint.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        "/* MLIR's StridedMemRefType: the descriptor of a buffer of rank R. */",
    ]
    buffers = signature.inputs + signature.outputs
    done = set()
    for buffer in buffers:
        struct = _struct_name(name, buffer)
        if struct in done:
            continue
        done.add(struct)
        fields = f"{buffer.ctype} *allocated; {buffer.ctype} *aligned; int64_t offset;"
        if buffer.rank:
            fields += f" int64_t sizes[{buffer.rank}]; int64_t strides[{buffer.rank}];"
        lines.append(f"typedef struct {{ {fields} }} {struct};")
    lines.append("")
    for kind, group in (("INPUT", signature.inputs), ("OUTPUT", signature.outputs)):
        lines.append(f"#define {name.upper()}_NUM_{kind}S {len(group)}")
        for index, buffer in enumerate(group):
            shape = "x".join(map(str, buffer.shape)) or "scalar"
            lines.append(f"#define {name.upper()}_{kind}{index}_ELEMENTS {buffer.elements}"
                         f" /* {shape} {buffer.element} */")
    parameters = [f"{_struct_name(name, b)} *input{i}" for i, b in enumerate(signature.inputs)]
    parameters += [f"{_struct_name(name, b)} *output{i}" for i, b in enumerate(signature.outputs)]
    lines += [
        "",
        "/* The entry: inputs, then the outputs as out-parameters, each a",
        " * pointer to its descriptor. */",
        f"void _mlir_ciface_{name}({', '.join(parameters) or 'void'});",
        "",
    ]
    if keeps_blocks:
        lines += [
            "/* Frees the intermediate buffers the calling thread keeps for its next",
            " * call. */",
            f"void {name}_release(void);",
            "",
        ]
    run_parameters = [f"const {b.ctype} *input{i}" for i, b in enumerate(signature.inputs)]
    run_parameters += [f"{b.ctype} *output{i}" for i, b in enumerate(signature.outputs)]
    lines.append(f"static inline void {name}_run({', '.join(run_parameters) or 'void'}) {{")
    for kind, group in (("input", signature.inputs), ("output", signature.outputs)):
        for index, buffer in enumerate(group):
            var = f"{kind}{index}"
            pointer = f"({buffer.ctype} *){var}" if kind == "input" else var
            init = f"{pointer}, {pointer}, 0"
            if buffer.rank:
                strides = [math.prod(buffer.shape[d + 1:]) for d in range(buffer.rank)]
                init += (", {" + ", ".join(map(str, buffer.shape)) + "}, {"
                         + ", ".join(map(str, strides)) + "}")
            lines.append(f"  {_struct_name(name, buffer)} {var}_descriptor = {{{init}}};")
    arguments = [f"&input{i}_descriptor" for i in range(len(signature.inputs))]
    arguments += [f"&output{i}_descriptor" for i in range(len(signature.outputs))]
    lines += [
        f"  _mlir_ciface_{name}({', '.join(arguments)});",
        "}",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* {guard} */",
        "",
    ]
    return "\n".join(lines)


def compile_module(module: Path, out_dir: Path, name: str | None = None,
                   function: str = "main", cpu: str = "native", features: str = "",
                   shared: bool = False, pipeline_options: str = "",
                   device: str = "cpu", chip: str = "sm_90",
                   upstream_gpu_pipeline: bool = False,
                   gpu_pipeline_options: str = "") -> dict:
    """AOT-compiles @function of `module` into `out_dir`; returns the paths
    written and the object's undefined symbols. device="cuda" lowers with
    the GPU pipeline for `chip` (the CPU options then apply to the host
    code)."""
    if device not in ("cpu", "cuda"):
        raise AotError(f"device '{device}' is not one of cpu, cuda")
    cuda = device == "cuda"
    if cuda and pipeline_options:
        raise AotError("--pipeline-options are qnn-cpu-pipeline's; they do not apply to "
                       "--device=cuda (--gpu-pipeline-options are the GPU pipeline's)")
    if not cuda and gpu_pipeline_options:
        raise AotError("--gpu-pipeline-options apply to --device=cuda only")
    if not module.is_file():
        raise AotError(f"cannot read the module {module}: no such file")
    name = c_identifier(name or module.stem.split(".")[0])
    if shared and name in SYSTEM_LIBRARIES:
        raise AotError(f"--name {name} with --shared would write lib{name}.so, which -l{name} "
                       "finds as the system's library (choose another name)")
    quant_opt = find_tool("quant-opt")
    # Parsed and verified, printed without locations: the text to read the
    # signature from.
    text = _run([quant_opt, str(module)], f"reading {module}")
    signature = prepare_module(text, function, name)

    native = cpu in ("", "native")
    llvm_cpu = "native" if native else cpu
    options = "results-to-out-params=true"
    if not native:
        options += f" cpu={cpu}"
    if features:
        options += f" cpu-features={features}"
    if pipeline_options:
        options += " " + pipeline_options
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        if cuda:
            pipeline = gpu_pipeline(chip, upstream_gpu_pipeline, gpu_pipeline_options)
            lowered = _run([quant_opt, f"--pass-pipeline={pipeline}"],
                           "lowering for the GPU", signature.text)
            # A program the pipeline leaves on the host has no kernels: not
            # what a GPU object is for.
            if "gpu.binary" not in lowered:
                raise AotError("the GPU pipeline made no kernels (no gpu.binary) of @"
                               f"{function}: it computes everything on the host")
        else:
            lowered = _run([quant_opt, f"--qnn-cpu-pipeline={options}"],
                           "lowering with qnn-cpu-pipeline", signature.text)
        # Only bufferization reads this hint; LLVM would warn about it.
        lowered = re.sub(r" \{bufferization\.writable = false\}", "", lowered)
        lowered = re.sub(r", bufferization\.writable = false|bufferization\.writable = false, ",
                         "", lowered)
        (work_dir / "lowered.mlir").write_text(lowered)
        _run([str(LLVM_BIN / "mlir-translate"), "--mlir-to-llvmir", str(work_dir / "lowered.mlir"),
              "-o", str(work_dir / "module.ll")], "mlir-translate --mlir-to-llvmir")
        # The triple too: mlir-translate writes none, and opt without one has
        # no target (generic costs for the vectorizers, no data layout): the
        # b64 fashion-transformer ran 30-40% slower than the JIT's code.
        triple = _run([str(LLVM_BIN / "llvm-config"), "--host-target"],
                      "llvm-config --host-target").strip()
        target = ([f"-mtriple={triple}", f"-mcpu={llvm_cpu}"]
                  + ([f"-mattr={features}"] if features else []))
        _run([str(LLVM_BIN / "opt"), "-O3", *target, str(work_dir / "module.ll"),
              "-o", str(work_dir / "module.bc")], "opt -O3")
        obj = out_dir / f"{name}.o"
        _run([str(LLVM_BIN / "llc"), "-O3", *target, "-filetype=obj", "-relocation-model=pic",
              str(work_dir / "module.bc"), "-o", str(obj)], "llc")
        entry = f"_mlir_ciface_{name}"
        kept_globals = [entry]
        calls = set(_run([str(LLVM_BIN / "llvm-nm"), "-u", str(obj)], "llvm-nm -u").split()[1::2])
        keeps_blocks = "malloc" in calls and not calls & OTHER_ALLOCATION_FUNCTIONS
        if keeps_blocks:
            _run([str(LLVM_BIN / "llvm-objcopy"), f"--redefine-sym=malloc={name}_block_alloc",
                  f"--redefine-sym=free={name}_block_free", str(obj)], "llvm-objcopy")
            source = work_dir / "kept_blocks.c"
            source.write_text(KEPT_BLOCKS_C.replace("NAME", name))
            cc = shutil.which("cc") or "cc"
            # initial-exec: the thread-local list without __tls_get_addr
            # calls (8 bytes of static TLS, which a dlopen'ed library may
            # use too).
            _run([cc, "-std=c11", "-O2", "-fPIC", "-ftls-model=initial-exec", "-c", str(source), "-o",
                  str(work_dir / "kept_blocks.o")], "compiling the buffer allocator with cc")
            # gcc names the GOT (undefined, the linker's) in position-
            # independent code though no relocation refers to it.
            _run([str(LLVM_BIN / "llvm-objcopy"), "--strip-symbol=_GLOBAL_OFFSET_TABLE_",
                  str(work_dir / "kept_blocks.o")], "llvm-objcopy")
            model_obj = work_dir / "model.o"
            shutil.move(str(obj), model_obj)
            _run([cc, "-r", "-nostdlib", str(model_obj), str(work_dir / "kept_blocks.o"),
                  "-o", str(obj)], "linking the buffer allocator into the object with cc -r")
            kept_globals.append(f"{name}_release")
        _run([str(LLVM_BIN / "llvm-objcopy")]
             + [f"--keep-global-symbol={symbol}" for symbol in kept_globals] + [str(obj)],
             "llvm-objcopy")
        defined = _run([str(LLVM_BIN / "llvm-nm"), "--defined-only", "--extern-only", str(obj)],
                       "llvm-nm").split()
        if entry not in defined:
            raise AotError(f"the object does not define {entry} (the pipeline did not keep the "
                           "C interface)")
        undefined = sorted(_run([str(LLVM_BIN / "llvm-nm"), "-u", str(obj)], "llvm-nm -u").split()
                           [1::2])
        written["object"] = obj
    runtime = "memrefCopy" in undefined
    libm = any(symbol.startswith(LIBM_PREFIXES) for symbol in undefined)
    unknown = [s for s in undefined if s not in LIBC and s != "memrefCopy"
               and not s.startswith(LIBM_PREFIXES)
               and not (cuda and s in CUDA_RUNTIME_FUNCTIONS)]
    if unknown:
        print(f"quant-aot: warning: the object also needs {', '.join(unknown)}, which the "
              "C library does not provide: link them in", file=sys.stderr)
    if runtime:
        path = out_dir / f"{name}_runtime.c"
        path.write_text(f"/* {name}_runtime.c: generated by quant-aot; MLIR's memrefCopy for "
                        f"{name}.o. */" + MEMREF_COPY_C)
        written["runtime"] = path
    header = out_dir / f"{name}.h"
    header.write_text(generate_header(name, signature, host_cpu() if native else cpu, features,
                                      undefined, runtime, libm, chip if cuda else None,
                                      keeps_blocks))
    written["header"] = header
    if shared:
        library = out_dir / f"lib{name}.so"
        sources = [str(written["object"])] + ([str(written["runtime"])] if runtime else [])
        # A GPU model's library leaves the mgpu* functions to the program
        # (or a library loaded with it) to define.
        _run([shutil.which("cc") or "cc", "-shared", "-o", str(library), *sources]
             + (["-lm"] if libm else []), "linking the shared library with cc")
        written["library"] = library
    written["undefined"] = undefined
    written["signature"] = signature
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="quant-aot",
        description="Compile a module's function ahead of time into an object file (and "
                    "optionally a shared library) with a C header: a program calls the model "
                    "without MLIR or a JIT at run time.")
    parser.add_argument("module", type=Path, help="the module (.mlir), float or quantized, any "
                        "stage qnn-cpu-pipeline takes")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output directory")
    parser.add_argument("--name", help="C name of the model: NAME.o, NAME.h, NAME_run, "
                        "_mlir_ciface_NAME (default: the module file's name)")
    parser.add_argument("--function", default="main", help="the function to compile (main)")
    parser.add_argument("--cpu", default="native", help="LLVM CPU to compile for: native (this "
                        "machine's, the default), x86-64-v3 (AVX2+FMA), znver3, znver4, ...")
    parser.add_argument("--features", default="", help="CPU features to add or remove "
                        "(+avx512f,-avx512vnni)")
    parser.add_argument("--shared", action="store_true", help="also link libNAME.so with cc")
    parser.add_argument("--pipeline-options", default="", help="more qnn-cpu-pipeline options "
                        "(e.g. strategy=generic)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu (default), or cuda: GPU kernels embedded in the object, which "
                        "calls quant-opt's CUDA runtime (docs/GPU.md); --cpu then applies to the "
                        "host code")
    parser.add_argument("--chip", choices=CUDA_CHIPS, default="sm_90",
                        help="with --device=cuda: the GPU architecture (default sm_90)")
    parser.add_argument("--upstream-gpu-pipeline", action="store_true",
                        help="with --device=cuda: upstream's gpu-lower-to-nvvm-pipeline even "
                        "where qnn-gpu-pipeline exists (programs with their own gpu.launch and "
                        "copies)")
    parser.add_argument("--gpu-pipeline-options", default="",
                        help="with --device=cuda: more qnn-gpu-pipeline options (e.g. "
                        "\"tile-m=128 tile-n=128 tile-k=64 warps-n=4\")")
    args = parser.parse_args(argv)
    try:
        written = compile_module(args.module, args.output, args.name, args.function, args.cpu,
                                 args.features, args.shared, args.pipeline_options,
                                 args.device, args.chip, args.upstream_gpu_pipeline,
                                 args.gpu_pipeline_options)
    except (AotError, ToolNotFoundError) as error:
        print(f"quant-aot: error: {error}", file=sys.stderr)
        return 1
    for key in ("object", "library", "header", "runtime"):
        if key in written:
            print(f"{written[key]} ({written[key].stat().st_size} bytes)")
    print("undefined symbols: " + (", ".join(written["undefined"]) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
