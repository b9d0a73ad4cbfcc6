"""The user-facing scripts, run as a user runs them: a missing build, tool,
model, data file or Python environment is one clear line on stderr and exit
status 1, never a traceback."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "models" / "digits-cnn" / "model.onnx"


def run(args, env_extra=None, cwd=ROOT, script_root=ROOT):
    env = {k: v for k, v in os.environ.items() if k != "QUANT_OPT_BUILD_DIR"}
    env.update(env_extra or {})
    return subprocess.run([str(script_root / args[0]), *map(str, args[1:])], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("script", ["quant-eval", "quant-sweep", "quant-mixed"])
def test_missing_build_is_one_line(script, tmp_path):
    args = ["scripts/" + script] + {
        "quant-eval": [DIGITS, "--data", "digits", "-q"], "quant-sweep": ["--short", "-q"],
        "quant-mixed": [DIGITS, "--data", "digits", "--budget", "1", "-o", tmp_path / "out", "-q"]}[script]
    result = run(args, {"QUANT_OPT_BUILD_DIR": str(tmp_path / "no-build")})
    assert_one_line_error(result, f"{script}: error:", "'quant-opt' is not built",
                          str(tmp_path / "no-build" / "bin" / "quant-opt"))


def test_missing_model_and_data_are_one_line(tmp_path):
    assert_one_line_error(run(["scripts/quant-eval", tmp_path / "none.onnx", "--data", "digits"]),
                          "cannot read ONNX model", "none.onnx")
    assert_one_line_error(run(["scripts/quant-eval", DIGITS, "--data", tmp_path / "none.npz"]),
                          "data file", "none.npz", "does not exist")
    assert_one_line_error(run(["scripts/quant-sweep", "--render", tmp_path / "none.json"]),
                          "quant-sweep: error:", "none.json")
    assert_one_line_error(run(["scripts/quant-sweep", "--models", "no-such-model", "-q"]),
                          "no bundled model 'no-such-model'")


def test_importer_cannot_write_is_one_line(tmp_path):
    env = {"PYTHONPATH": str(ROOT / "python")}
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python3"), "-m", "quant_opt.onnx_import",
                             str(DIGITS), "-o", str(tmp_path / "no-dir" / "m.mlir")],
                            env={**os.environ, **env}, capture_output=True, text=True)
    assert_one_line_error(result, "cannot write", "m.mlir")


def test_missing_python_environment_is_one_line(tmp_path):
    """A checkout without .venv (setup never ran): the scripts say so."""
    copy = tmp_path / "checkout"
    (copy / "scripts").mkdir(parents=True)
    for script in ("quant-eval", "quant-sweep", "quant-mixed"):
        shutil.copy2(ROOT / "scripts" / script, copy / "scripts" / script)
        result = run(["scripts/" + script, "--help"], script_root=copy, cwd=copy)
        assert_one_line_error(result, f"{script}: no Python environment", "scripts/setup.sh")


def test_check_build_deps_names_a_package_setup_does_not_install():
    """scripts/check-build-deps.py on this build: the full list passes, and
    leaving out a package whose files the build read names that package."""
    build = Path(os.environ.get("BUILD_DIR", ROOT / "build"))
    if shutil.which("dpkg") is None or shutil.which("apt-cache") is None:
        pytest.skip("needs dpkg and apt-cache (Debian)")
    cache = (build / "CMakeCache.txt").read_text() if (build / "CMakeCache.txt").is_file() else ""
    if "CMAKE_CXX_COMPILER:FILEPATH=/usr/bin/c++" not in cache and \
            "CMAKE_CXX_COMPILER:STRING=/usr/bin/c++" not in cache:
        pytest.skip(f"{build} is not scripts/setup.sh's build (another compiler: the sanitizer or "
                    "fuzzing build, whose extra packages their own scripts install)")
    packages = subprocess.run(
        ["bash", "-c", f"source <(sed -n '/^APT_PACKAGES=(/,/^)/p' {ROOT}/scripts/setup.sh); "
                       "echo ${APT_PACKAGES[@]}"], capture_output=True, text=True, check=True).stdout.split()
    assert "ocl-icd-opencl-dev" in packages and "libdnnl-dev" in packages
    check = [str(ROOT / "scripts" / "check-build-deps.py"), str(build)]
    ok = subprocess.run(check + packages, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    without = subprocess.run(check + [p for p in packages if p != "ocl-icd-opencl-dev"],
                             capture_output=True, text=True)
    assert without.returncode == 1
    assert "libOpenCL.so: from ocl-icd-opencl-dev" in without.stderr
