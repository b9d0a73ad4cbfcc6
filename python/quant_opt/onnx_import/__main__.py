"""python -m quant_opt.onnx_import: see cli.main."""

import sys

from .cli import main

sys.exit(main())
