"""Copies the extension the CMake build made into the package being built
(pyproject.toml has the rest). Without it the package still installs: the
NumPy reference and the harness work, and quant_opt.native says why it is
missing."""

import glob
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithExtension(build_py):
    def run(self):
        super().run()
        build = os.environ.get("QUANT_OPT_BUILD_DIR") or str(Path(__file__).resolve().parent.parent / "build")
        for library in glob.glob(os.path.join(build, "python", "_quant_opt*.so")):
            shutil.copy2(library, os.path.join(self.build_lib, "quant_opt"))


setup(cmdclass={"build_py": BuildWithExtension})
