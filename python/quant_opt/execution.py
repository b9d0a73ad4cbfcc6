"""Lowering a module with a quant-opt CPU pipeline and running it under
mlir-runner: what the differential checkers (semantics_check, fusion_check)
share, with their command-line options."""

import argparse
import subprocess

PIPELINES = ("qnn-reference-cpu-pipeline", "qnn-cpu-pipeline")


def add_arguments(parser: argparse.ArgumentParser, runner_required: bool = True) -> None:
    """--quant-opt, --pipeline, --mlir-runner and --shared-libs."""
    parser.add_argument("--quant-opt", required=True)
    parser.add_argument("--pipeline", default=PIPELINES[0], choices=PIPELINES,
                        help="the CPU pipeline that lowers the programs")
    parser.add_argument("--mlir-runner", required=runner_required,
                        help=None if runner_required else "needed unless --fold")
    parser.add_argument("--shared-libs", required=runner_required,
                        help="comma-separated runtime libraries for mlir-runner")


def run_command(cmd: list[str], stdin: str | None = None) -> str:
    """Runs `cmd`; its stdout, or RuntimeError with its stderr."""
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr}")
    return result.stdout


def lower_and_run(args: argparse.Namespace, module_text: str) -> str:
    """Lowers `module_text` with --pipeline and runs its @main; what it
    printed."""
    lowered = run_command([args.quant_opt, f"--{args.pipeline}"], module_text)
    return run_command([args.mlir_runner, "-e", "main", "-entry-point-result=void",
                        f"-shared-libs={args.shared_libs}"], lowered)


class ToolNotFoundError(FileNotFoundError):
    """A quant-opt tool (quant-opt, quant-run) is not built where it was
    looked for; the message says what to do."""


def find_tool(name: str) -> str:
    """The path of a quant-opt tool: $QUANT_OPT_BUILD_DIR/bin/NAME when that
    variable is set (and nowhere else: an explicit choice is not silently
    replaced by another build), else the source tree's build/bin/NAME, else
    NAME on PATH."""
    import os
    import shutil
    from pathlib import Path
    build = os.environ.get("QUANT_OPT_BUILD_DIR")
    if build:
        candidate = Path(build) / "bin" / name
        if candidate.is_file():
            return str(candidate)
        raise ToolNotFoundError(f"'{name}' is not built in QUANT_OPT_BUILD_DIR ({candidate} does not "
                                "exist): build quant-opt there, or unset the variable")
    candidate = Path(__file__).resolve().parents[2] / "build" / "bin" / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ToolNotFoundError(f"'{name}' is not built ({candidate} does not exist, and it is not on "
                                "PATH): run scripts/setup.sh to build it, or set QUANT_OPT_BUILD_DIR "
                                "to a build directory")
    return found


def quant_run_command(module, inputs=(), outputs=(), function: str | None = None,
                      dataset: bool = False, extra_args=()) -> list[str]:
    """The quant-run command line that runs `module` on the .npy files
    `inputs` and writes its results to `outputs`."""
    cmd = [find_tool("quant-run"), str(module)]
    if function:
        cmd += ["-f", function]
    for path in inputs:
        cmd += ["-i", str(path)]
    for path in outputs:
        cmd += ["-o", str(path)]
    if dataset:
        cmd.append("--dataset")
    return cmd + list(extra_args)


def run_module(module_text: str, inputs, function: str = "main", dataset: bool = False,
               extra_args=(), workdir=None) -> list:
    """Runs @function of `module_text` on NumPy arrays with quant-run (one JIT
    compile); with `dataset`, the inputs hold several batches along their
    first axis and the results are concatenated. Returns the results."""
    import tempfile
    from pathlib import Path
    import numpy as np
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        (tmp / "module.mlir").write_text(module_text)
        input_paths = [tmp / f"in{i}.npy" for i in range(len(inputs))]
        for path, array in zip(input_paths, inputs):
            np.save(path, array)
        outputs = [tmp / f"out{i}.npy" for i in range(_count_results(module_text, function))]
        run_command(quant_run_command(tmp / "module.mlir", input_paths, outputs, function, dataset,
                                      extra_args))
        return [np.load(path) for path in outputs]


def _count_results(module_text: str, function: str) -> int:
    """How many results @function has, from its signature in the text
    (brackets matched, so that a type with braces, such as a sub-channel
    quantized type, is read whole)."""
    import re
    match = re.search(r"func\.func @" + re.escape(function) + r"\(", module_text)
    if match is None:
        raise ValueError(f"no function @{function} in the module")

    def balanced(start: int) -> int:
        """The index after the bracket group opening at `start`."""
        depth = 0
        for k in range(start, len(module_text)):
            depth += module_text[k] in "<([{"
            depth -= module_text[k] in ">)]}" and module_text[k - 1] != "-"
            if depth == 0:
                return k + 1
        raise ValueError(f"unbalanced signature of @{function}")
    rest = module_text[balanced(match.end() - 1):].lstrip()
    if not rest.startswith("->"):
        return 0
    rest = rest[2:].lstrip()
    if not rest.startswith("("):
        return 1
    offset = len(module_text) - len(rest)
    results = module_text[offset + 1:balanced(offset) - 1]
    depth, count = 0, 1 if results.strip() else 0
    for ch in results:
        depth += ch in "<([{"
        depth -= ch in ">)]}"
        count += ch == "," and depth == 0
    return count
