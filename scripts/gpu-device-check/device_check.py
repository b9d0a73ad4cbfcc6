#!/usr/bin/env python3
"""The GPU device check, run on the machine with the GPU (issue 11 item 5;
docs/GPU.md). Needs only Python 3 with NumPy, a C compiler, g++ (or nvcc)
and the CUDA headers there; PyTorch and ONNX Runtime are used when present.
No MLIR: everything it runs was compiled ahead of time by
scripts/gpu-device-check/prepare into the bundle.

    device_check.py BUNDLE [--work DIR] [--dry-run] [--skip-timing] [--max-gemm N]

1. builds the CUDA runtime from the bundle's source (g++, else nvcc);
2. links every case's GPU object with its generated C driver and the
   runtime, runs it on the bundle's inputs and compares every output
   element with the CPU integer program's (bit for bit; 0 mismatches
   required);
3. times int8 GEMM 4096^3 and 8192^3 from our pipeline (kernel time, from
   the runtime's timing events) against cuBLASLt int8 (torch._int_mm) and
   fp16 (torch.matmul), checking our result against torch._int_mm;
4. times the Fashion models against ONNX Runtime's CUDA provider when it
   is importable;
5. prints the results as Markdown tables (and writes them to $OUT, when
   set, as results.md and results.json).

--dry-run checks the bundle and, where the tools are there, builds the
runtime and links every driver, but runs nothing on a GPU: it works on a
machine without one. Exit status: 0 when every built case matched, 1 on a
mismatch or failure, 2 on a bad bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CASE_TIMEOUT = 90
GEMM_TIMEOUT = 150
# The whole check must end within 8 minutes (run-on-device.sh kills it at
# 470 s): after this many seconds what is left is reported as not run, and
# the tables are still printed.
BUDGET = 400
DEADLINE = time.time() + BUDGET


def left() -> float:
    return DEADLINE - time.time()
TIMED_CALLS = {"layer": 20, "model": 20, "smoke": 20, "gemm": 5}


def log(*args):
    print(*args, flush=True)


def cuda_home() -> Path:
    for candidate in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if candidate and (Path(candidate) / "include" / "cuda.h").is_file():
            return Path(candidate)
    nvcc = shutil.which("nvcc")
    if nvcc and (Path(nvcc).resolve().parents[1] / "include" / "cuda.h").is_file():
        return Path(nvcc).resolve().parents[1]
    return Path("/usr/local/cuda")


def check_bundle(bundle: Path) -> dict:
    """The manifest, after checking that every file it names is there."""
    manifest_path = bundle / "manifest.json"
    if not manifest_path.is_file():
        raise SystemExit(f"device_check: error: no {manifest_path}: run "
                         "scripts/gpu-device-check/prepare first, and carry its output")
    manifest = json.loads(manifest_path.read_text())
    missing = []
    for path in (bundle / "runtime" / "CudaRuntime.cpp",
                 bundle / "runtime" / "include" / "quant-opt" / "Runtime" / "CudaRuntime.h"):
        if not path.is_file():
            missing.append(str(path))
    for case in manifest["cases"]:
        case_dir = bundle / "cases" / case["name"]
        names = []
        if case["gpu_object"]:
            names += [f"{case['name']}.o", f"{case['name']}.h", f"{case['name']}_driver.c"]
        if case["kind"] != "gemm":
            names += [f"input{i}.bin" for i in range(len(case.get("inputs", [])))]
            names += [f"expected{i}.npy" for i in range(len(case.get("outputs", [])))]
        for name in names:
            if not (case_dir / name).is_file():
                missing.append(str(case_dir / name))
        if case.get("onnx") and not (bundle / case["onnx"]).is_file():
            missing.append(str(bundle / case["onnx"]))
    if missing:
        raise SystemExit("device_check: error: the bundle lacks " + ", ".join(missing[:10])
                         + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
    return manifest


def build_runtime(bundle: Path, work: Path) -> Path:
    runtime = work / "libquant_opt_cuda_runtime.so"
    include = cuda_home() / "include"
    source = bundle / "runtime" / "CudaRuntime.cpp"
    flags = ["-O2", "-std=c++17", "-shared", "-fPIC", f"-I{include}",
             f"-I{bundle / 'runtime' / 'include'}", str(source), "-o", str(runtime)]
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler:
        cmd = [compiler, *flags, "-ldl"]
    elif shutil.which("nvcc"):
        cmd = ["nvcc", "-O2", "-std=c++17", "-shared", "-Xcompiler", "-fPIC", f"-I{include}",
               f"-I{bundle / 'runtime' / 'include'}", str(source), "-o", str(runtime), "-ldl"]
    else:
        raise SystemExit("device_check: error: neither g++ nor nvcc to build the runtime")
    started = time.time()
    subprocess.run(cmd, check=True)
    log(f"runtime: built {runtime} with {Path(cmd[0]).name} in {time.time() - started:.1f} s "
        f"(CUDA headers {include})")
    return runtime


def link_case(bundle: Path, case: dict, runtime: Path, work: Path) -> Path:
    case_dir = bundle / "cases" / case["name"]
    exe = work / f"{case['name']}_driver"
    cc = shutil.which("cc") or shutil.which("gcc") or "cc"
    # MLIR's memrefCopy, when the object needs it (quant-aot writes it).
    extra = [str(p) for p in [case_dir / f"{case['name']}_runtime.c"] if p.is_file()]
    subprocess.run([cc, "-O2", f"-I{case_dir}", str(case_dir / f"{case['name']}_driver.c"),
                    str(case_dir / f"{case['name']}.o"), *extra, f"-L{runtime.parent}",
                    "-lquant_opt_cuda_runtime", f"-Wl,-rpath,{runtime.parent}", "-lm",
                    "-o", str(exe)], check=True)
    return exe


def compare(expected: np.ndarray, got: np.ndarray) -> tuple[int, float]:
    """Mismatching elements (bit for bit) and the largest difference."""
    if expected.dtype.kind == "f":
        bits = np.dtype(f"u{expected.dtype.itemsize}")
        differ = expected.view(bits) != got.view(bits)
        largest = float(np.max(np.abs(expected.astype(np.float64) - got.astype(np.float64)),
                               initial=0.0))
    else:
        differ = expected != got
        largest = float(np.max(np.abs(expected.astype(np.int64) - got.astype(np.int64)),
                               initial=0))
    return int(np.count_nonzero(differ)), largest


def run_case(bundle: Path, case: dict, exe: Path, work: Path, timing: bool) -> dict:
    case_dir = bundle / "cases" / case["name"]
    out_dir = work / case["name"]
    out_dir.mkdir(exist_ok=True)
    repeat = TIMED_CALLS.get(case["kind"], 10) if timing else 0
    started = time.time()
    result = subprocess.run([str(exe), str(case_dir), str(out_dir), str(repeat)],
                            capture_output=True, text=True,
                            timeout=max(5.0, min(CASE_TIMEOUT, left())))
    row = {"name": case["name"], "kind": case["kind"], "seconds": round(time.time() - started, 2)}
    if result.returncode != 0:
        row["error"] = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        return row
    elements = mismatches = 0
    largest = 0.0
    for i, spec in enumerate(case["outputs"]):
        expected = np.load(case_dir / f"expected{i}.npy")
        got = np.fromfile(out_dir / f"output{i}.bin", dtype=np.dtype(spec["dtype"]))
        got = got.reshape(expected.shape)
        bad, diff = compare(expected, got)
        elements += expected.size
        mismatches += bad
        largest = max(largest, diff)
    row.update(elements=elements, mismatches=mismatches, max_abs_diff=largest)
    for line in result.stdout.splitlines():
        if line.startswith("TIME "):
            for field in line.split()[2:]:
                key, value = field.split("=")
                row[key] = float(value)
    return row


def time_torch(fn, warmup=3, iterations=20) -> float:
    """Seconds per call of `fn` on the GPU (CUDA events)."""
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) * 1e-3 / iterations


def gemm_rows(bundle: Path, manifest: dict, runtime: Path, work: Path, dry_run: bool,
              max_gemm: int | None = None) -> list:
    rows = []
    try:
        import torch
        have_torch = torch.cuda.is_available()
    except Exception:  # no torch, or one without CUDA
        have_torch = False
    peers = {}
    for case in [c for c in manifest["cases"] if c["kind"] == "gemm"]:
        n = case["size"]
        # B as the case's function takes it: (k, n), or (n, k) as constant
        # weights are packed.
        b_layout = case.get("b_layout", "kn")
        row = {"n": n, "b_layout": b_layout, "tiles": case.get("tiles", "default")}
        if not case["gpu_object"]:
            row["ours"] = "skipped: " + case.get("skip_reason", "")
        if dry_run:
            row["note"] = "dry run"
            rows.append(row)
            continue
        if max_gemm is not None and n > max_gemm:
            row["note"] = f"not run: larger than --max-gemm {max_gemm}"
            rows.append(row)
            continue
        if left() < 60:
            row["note"] = f"not run: the {BUDGET} s budget is spent"
            rows.append(row)
            continue
        if have_torch:
            # The operands and the peers' times once per size (each size has
            # a case per tiling of ours).
            # cuBLASLt is timed on the same layout: B (n, k) is handed to it
            # as the column-major (k, n) view, its native int8 "TN" form.
            if (n, b_layout) not in peers:
                a = torch.randint(-128, 128, (n, n), dtype=torch.int8, device="cuda")
                b = torch.randint(-128, 128, (n, n), dtype=torch.int8, device="cuda")
                peer_note = ""
                if b_layout == "nk":
                    b = b.t().contiguous().t()
                try:
                    int8_seconds = time_torch(lambda: torch._int_mm(a, b))
                except RuntimeError as error:  # a layout this torch does not take
                    b = b.contiguous()
                    peer_note = f"cuBLASLt timed with B (k, n): {str(error).splitlines()[0]}"
                    int8_seconds = time_torch(lambda: torch._int_mm(a, b))
                ah, bh = a.half(), b.half()
                fp16_seconds = time_torch(lambda: torch.matmul(ah, bh))
                del ah, bh
                peers[(n, b_layout)] = (a, b, 2 * n**3 / int8_seconds / 1e12,
                                        2 * n**3 / fp16_seconds / 1e12, peer_note)
            a, b, row["cublaslt_int8_tops"], row["torch_fp16_tflops"], peer_note = \
                peers[(n, b_layout)]
            if peer_note:
                row["note"] = peer_note
        if case["gpu_object"]:
            # The operands' files once per size and layout, shared by the
            # cases of each tiling (which write their output there too).
            data = work / f"gemm_{n}_{b_layout}"
            if not data.is_dir():
                data.mkdir()
                if have_torch:
                    a_host, b_host = a.cpu().numpy(), b.cpu().numpy()
                else:
                    rng = np.random.default_rng(n)
                    a_host = rng.integers(-128, 128, (n, n), dtype=np.int8)
                    b_host = rng.integers(-128, 128, (n, n), dtype=np.int8)
                a_host.tofile(data / "input0.bin")
                # Row-major bytes of the function's B: B itself, or B^T.
                np.ascontiguousarray(b_host.T if b_layout == "nk" else b_host).tofile(
                    data / "input1.bin")
                del a_host, b_host
            exe = link_case(bundle, case, runtime, work)
            try:
                result = subprocess.run([str(exe), str(data), str(data),
                                         str(TIMED_CALLS["gemm"])], capture_output=True, text=True,
                                        timeout=max(5.0, min(GEMM_TIMEOUT, left())))
            except subprocess.TimeoutExpired:
                row["ours"] = "failed: timed out"
                rows.append(row)
                continue
            if result.returncode != 0:
                row["ours"] = "failed: " + (result.stderr.strip().splitlines() or ["?"])[-1]
            else:
                for line in result.stdout.splitlines():
                    if line.startswith("TIME "):
                        fields = dict(f.split("=") for f in line.split()[2:])
                        row["ours_kernel_ms"] = float(fields["kernel_ms"])
                        row["ours_wall_ms"] = float(fields["wall_ms"])
                        row["ours_int8_tops"] = 2 * n**3 / (float(fields["kernel_ms"]) * 1e-3) / 1e12
                if have_torch:
                    got = np.fromfile(data / "output0.bin", dtype=np.int32).reshape(n, n)
                    want = torch._int_mm(a, b).cpu().numpy()
                    row["mismatches"] = int(np.count_nonzero(got != want))
                    if "cublaslt_int8_tops" in row and "ours_int8_tops" in row:
                        row["ratio_vs_cublaslt"] = row["ours_int8_tops"] / row["cublaslt_int8_tops"]
        rows.append(row)
    return rows


def ort_rows(bundle: Path, manifest: dict, results: list, dry_run: bool) -> list:
    rows = []
    try:
        import onnxruntime as ort
    except ImportError:
        return [{"note": "onnxruntime is not importable here: no ONNX Runtime comparison"}]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return [{"note": f"onnxruntime {ort.__version__} has no CUDAExecutionProvider"}]
    for case in [c for c in manifest["cases"] if c["kind"] == "model"]:
        row = {"name": case["name"]}
        ours = next((r for r in results if r["name"] == case["name"]), {})
        row["ours_wall_ms"] = ours.get("wall_ms")
        row["ours_kernel_ms"] = ours.get("kernel_ms")
        if dry_run:
            rows.append(row)
            continue
        if left() < 20:
            row["note"] = f"not run: the {BUDGET} s budget is spent"
            rows.append(row)
            continue
        session = ort.InferenceSession(str(bundle / case["onnx"]),
                                       providers=["CUDAExecutionProvider"])
        x = np.fromfile(bundle / "cases" / case["name"] / "input0.bin", dtype=np.float32)
        x = x.reshape(case["inputs"][0]["shape"])
        name = session.get_inputs()[0].name
        for _ in range(5):
            session.run(None, {name: x})
        started = time.perf_counter()
        for _ in range(50):
            session.run(None, {name: x})
        row["ort_cuda_float_ms"] = (time.perf_counter() - started) / 50 * 1e3
        rows.append(row)
    return rows


def markdown(manifest: dict, results: list, gemm: list, ort_table: list, gpu: str) -> str:
    def fmt(value, spec=".3f"):
        return "" if value is None else (format(value, spec) if isinstance(value, float)
                                         else str(value))
    lines = [f"GPU: {gpu}; bundle commit {manifest.get('commit')}, chip {manifest['chip']}, "
             f"pipeline `{manifest['gpu_pipeline']}`", "",
             "| case | kind | elements | mismatches | max abs diff | wall ms/call | "
             "kernel ms/call | kernels/call |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in results:
        if "skipped" in row:
            lines.append(f"| {row['name']} | {row['kind']} | | skipped: {row['skipped']} | | | | |")
        elif "error" in row:
            lines.append(f"| {row['name']} | {row['kind']} | | FAILED: {row['error']} | | | | |")
        else:
            lines.append(f"| {row['name']} | {row['kind']} | {row.get('elements', '')} | "
                         f"{row.get('mismatches', '')} | {fmt(row.get('max_abs_diff'), 'g')} | "
                         f"{fmt(row.get('wall_ms'))} | {fmt(row.get('kernel_ms'))} | "
                         f"{fmt(row.get('launches_per_call'), '.0f')} |")
    lines += ["", "| GEMM n³ | B layout | our tiles | ours int8 TOPS (kernel) | "
              "cuBLASLt int8 TOPS (torch._int_mm) | "
              "ours / cuBLASLt | torch fp16 TFLOPS | mismatches vs torch._int_mm | note |",
              "|---:|---|---|---:|---:|---:|---:|---:|---|"]
    for row in gemm:
        lines.append(f"| {row['n']} | {row.get('b_layout', '')} | {row.get('tiles', '')} | "
                     f"{fmt(row.get('ours_int8_tops'), '.1f')} | "
                     f"{fmt(row.get('cublaslt_int8_tops'), '.1f')} | "
                     f"{fmt(row.get('ratio_vs_cublaslt'), '.2f')} | "
                     f"{fmt(row.get('torch_fp16_tflops'), '.1f')} | {row.get('mismatches', '')} | "
                     f"{row.get('ours', row.get('note', ''))} |")
    lines += ["", "| model (batch 8) | ours int8 wall ms | ours kernel ms | "
              "ONNX Runtime CUDA float ms |", "|---|---:|---:|---:|"]
    for row in ort_table:
        if "note" in row and "name" not in row:
            lines.append(f"| {row['note']} | | | |")
        else:
            lines.append(f"| {row['name']} | {fmt(row.get('ours_wall_ms'))} | "
                         f"{fmt(row.get('ours_kernel_ms'))} | "
                         f"{fmt(row.get('ort_cuda_float_ms')) or row.get('note', '')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--work", type=Path, help="scratch directory, kept (default: a temporary one, removed at the end)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the bundle, build and link, run nothing on a GPU")
    parser.add_argument("--skip-timing", action="store_true", help="compare only")
    parser.add_argument("--max-gemm", type=int, metavar="N",
                        help="time only the GEMMs of size N^3 or smaller (default: all)")
    args = parser.parse_args(argv)
    started = time.time()
    manifest = check_bundle(args.bundle)
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        return check(args, manifest, args.work, started)
    # A scratch directory of our own is removed (the GEMM operands and
    # outputs alone are gigabytes).
    with tempfile.TemporaryDirectory(prefix="gpu-device-check-") as work:
        return check(args, manifest, Path(work), started)


def check(args, manifest: dict, work: Path, started: float) -> int:
    cases = manifest["cases"]
    built = [c for c in cases if c["gpu_object"] and c["kind"] != "gemm"]
    log(f"bundle {args.bundle}: {len(cases)} cases, {len(built)} to compare, pipeline "
        f"{manifest['gpu_pipeline']}")
    have_headers = (cuda_home() / "include" / "cuda.h").is_file()
    if args.dry_run and not have_headers:
        log(f"dry run: no cuda.h under {cuda_home()}: the bundle is complete; not building")
        return 0
    runtime = build_runtime(args.bundle, work)
    exes = {c["name"]: link_case(args.bundle, c, runtime, work) for c in built}
    log(f"linked {len(exes)} drivers")
    gpu = "none (dry run)"
    if not args.dry_run:
        gpu = "unknown (no nvidia-smi)"
        smi = shutil.which("nvidia-smi")
        if smi:
            gpu = subprocess.run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True).stdout.strip() or "unknown"
    results = []
    for case in cases:
        if case["kind"] == "gemm":
            continue
        if not case["gpu_object"]:
            results.append({"name": case["name"], "kind": case["kind"],
                            "skipped": case.get("skip_reason", "no GPU object")})
            continue
        if args.dry_run:
            results.append({"name": case["name"], "kind": case["kind"],
                            "skipped": "dry run (linked, not run)"})
            continue
        if left() < 10:
            results.append({"name": case["name"], "kind": case["kind"],
                            "error": f"not run: the {BUDGET} s budget is spent"})
            continue
        try:
            row = run_case(args.bundle, case, exes[case["name"]], work, not args.skip_timing)
        except subprocess.TimeoutExpired:
            row = {"name": case["name"], "kind": case["kind"], "error": "timed out"}
        results.append(row)
        state = (f"FAILED: {row['error']}" if "error" in row else
                 f"{row['mismatches']} mismatches of {row['elements']}")
        log(f"{case['name']}: {state}")
    gemm = [] if args.skip_timing else gemm_rows(args.bundle, manifest, runtime, work,
                                                 args.dry_run, args.max_gemm)
    ort_table = [] if args.skip_timing else ort_rows(args.bundle, manifest, results,
                                                     args.dry_run)
    table = markdown(manifest, results, gemm, ort_table, gpu)
    log("\n" + table)
    out = os.environ.get("OUT")
    if out and Path(out).is_dir():
        (Path(out) / "results.md").write_text(table)
        (Path(out) / "results.json").write_text(json.dumps(
            {"gpu": gpu, "manifest": manifest, "cases": results, "gemm": gemm, "ort": ort_table},
            indent=1, default=str))
    failed = [r for r in results if "error" in r or r.get("mismatches", 0)]
    failed += [r for r in gemm if r.get("mismatches", 0) or str(r.get("ours", "")).startswith("failed")]
    compared = [r for r in results if "mismatches" in r]
    log(f"{len(compared)} cases compared, {len(failed)} failed or mismatched, "
        f"{sum(r.get('mismatches', 0) for r in compared)} mismatching elements in all; "
        f"{time.time() - started:.0f} s")
    if args.dry_run:
        log("dry run: bundle complete, runtime built, every driver linked; nothing ran on a GPU")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
