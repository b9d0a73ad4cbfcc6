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
