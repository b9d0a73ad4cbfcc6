#!/usr/bin/env python3
"""Checks that every file the build read from the system comes from a
package that scripts/setup.sh installs, or that one of them depends on.

A machine that happened to have a package (installed by hand, or pulled in
as a *Recommends*, which setup.sh's --no-install-recommends skips) hides a
missing install step until a bare machine fails: libdnnl-dev's CMake package
calls find_package(OpenCL), whose headers are only recommended. This check
makes that visible on any machine, bare or not.

    check-build-deps.py BUILD_DIR PACKAGE...

The files: what CMake read to configure (build.ninja's regeneration inputs
and the file paths in CMakeCache.txt), the headers every object was compiled
against (ninja's dependency log) and the libraries linked by path. Each is
mapped to its Debian package with `dpkg -S`; the allowed packages are the
given ones and their Depends/Pre-Depends closure (`apt-cache depends
--recurse`, no Recommends). Prints one line per offending file and exits 1.
"""

import os
import re
import subprocess
import sys
from pathlib import Path


def system_files(build: Path, root: Path) -> set[str]:
    """Absolute paths outside the source and build trees that the build
    read."""
    files: set[str] = set()
    ninja_text = (build / "build.ninja").read_text()
    rerun = re.search(r"^build build\.ninja: RERUN_CMAKE \| (.*)$", ninja_text, re.M)
    if rerun:
        files.update(rerun.group(1).split())
    # Libraries linked by absolute path.
    files.update(re.findall(r"(/usr/[^\s:]+\.(?:so|a)(?:\.[0-9]+)*)\b", ninja_text))
    for line in (build / "CMakeCache.txt").read_text().splitlines():
        match = re.match(r"^[^#/][^:]*:FILEPATH=(/.+)$", line)
        if match:
            files.add(match.group(1))
    deps = subprocess.run(["ninja", "-C", str(build), "-t", "deps"], capture_output=True,
                          text=True, check=True).stdout
    files.update(line.strip() for line in deps.splitlines() if line.startswith("    /"))
    inside = (str(root) + "/", str(build.resolve()) + "/")
    # Optional toolchains setup.sh does not install by design: the CUDA
    # toolkit, whose cuda.h the CUDA runtime (lib/Runtime) is built against
    # when CMake finds it (docs/GPU.md).
    cache = (build / "CMakeCache.txt").read_text()
    cuda = re.search(r"^QUANT_OPT_CUDA_INCLUDE_DIR:PATH=(/.+)$", cache, re.M)
    if cuda and not cuda.group(1).endswith("-NOTFOUND"):
        toolkit = os.path.dirname(cuda.group(1).rstrip("/"))
        inside += (toolkit + "/", os.path.realpath(toolkit) + "/")
    return {f for f in files if f.startswith("/") and not f.startswith(inside) and os.path.exists(f)}


def owners(paths: list[str]) -> dict[str, set[str]]:
    """path -> the packages that own it (merged /usr: tries /lib as well)."""
    def query(candidates: dict[str, str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        names = list(candidates)
        for start in range(0, len(names), 500):
            result = subprocess.run(["dpkg", "-S", *names[start:start + 500]],
                                    capture_output=True, text=True)
            for line in result.stdout.splitlines():
                if line.startswith("diversion by") or ": " not in line:
                    continue
                packages, path = line.split(": ", 1)
                if path in candidates:
                    found.setdefault(candidates[path], set()).update(
                        p.strip().split(":")[0] for p in packages.split(","))
        return found

    found = query({p: p for p in paths})
    # Symlinks (alternatives, merged /usr): the resolved file, and /usr/x as /x.
    rest = [p for p in paths if p not in found]
    alternates: dict[str, str] = {}
    for path in rest:
        real = os.path.realpath(path)
        for candidate in {real, re.sub(r"^/usr/", "/", path), re.sub(r"^/usr/", "/", real)}:
            alternates[candidate] = path
    for path, packages in query(alternates).items():
        found.setdefault(path, set()).update(packages)
    return found


def closure(packages: list[str]) -> set[str]:
    """The packages and everything they depend on (no Recommends)."""
    result = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *packages],
        capture_output=True, text=True, check=True)
    return {line.strip() for line in result.stdout.splitlines()
            if line and not line.startswith(" ") and not line.startswith("<")}


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__.split("\n\n")[2].strip(), file=sys.stderr)
        return 2
    build, packages = Path(argv[1]), argv[2:]
    root = Path(__file__).resolve().parents[1]
    if not (build / "build.ninja").is_file():
        print(f"check-build-deps: {build} is not a configured build directory", file=sys.stderr)
        return 2
    files = sorted(system_files(build, root))
    owned = owners(files)
    allowed = closure(packages)
    bad = []
    for path in files:
        packages_of = owned.get(path)
        if packages_of is None:
            bad.append(f"{path}: not from any Debian package (installed by hand?)")
        elif not packages_of & allowed:
            bad.append(f"{path}: from {', '.join(sorted(packages_of))}, which scripts/setup.sh "
                       "neither installs nor depends on (a Recommends, or installed by hand?)")
    for line in bad:
        print(f"check-build-deps: {line}", file=sys.stderr)
    if bad:
        print(f"check-build-deps: add the package(s) to APT_PACKAGES in scripts/setup.sh",
              file=sys.stderr)
        return 1
    print(f"== build dependencies: {len(files)} system files, all from scripts/setup.sh's "
          f"{len(packages)} packages and their dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
