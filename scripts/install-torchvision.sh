#!/usr/bin/env bash
# Installs Debian 12's python3-torchvision (0.14, which pulls python3-torch
# 1.13: about 260 packages) for the optional torchvision architecture check
# (python -m quant_opt.torchvision_check, python/tests/test_torchvision_check.py,
# docs/Harness.md "torchvision architectures") and quantization-aware
# fine-tuning (scripts/quant-qat, python/tests/test_qat.py; PyTorch only).
# Not part of scripts/setup.sh's
# default set, so CI's setup time does not grow; a no-op when installed.
# The .venv sees it through --system-site-packages.
#
#   scripts/install-torchvision.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/apt-install.sh"
apt_install python3-torchvision
