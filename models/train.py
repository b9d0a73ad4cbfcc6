#!/usr/bin/env python3
"""Trains the bundled float models and exports them to ONNX.

    /usr/bin/python3 models/train.py                  # all models
    /usr/bin/python3 models/train.py --only digits-cnn

Needs Debian's python3-torch (CPU) and python3-sklearn, and the Fashion-MNIST
files of dataset-fashion-mnist; the ONNX check needs onnx and onnxruntime,
taken from this interpreter when it has them, else from the project's venv
(.venv/bin/python, or $QUANT_OPT_PYTHON) in a subprocess. See models/README.md.

For each model it writes models/<name>/model.onnx and models/<name>/metrics.json.
Everything is seeded (torch.manual_seed(0) before each model is built, NumPy
generators for the shuffles) and runs on 2 CPU threads, so a rerun gives the
same weights up to the nondeterminism of the CPU kernels.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# On a busy machine, OpenMP threads that spin while waiting make 2 threads
# several times slower than 1; passive waiting avoids it. Must be set before
# torch (and its libgomp) is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "python"))

from quant_opt import datasets  # noqa: E402

# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


class DigitsCNN(nn.Module):
    """8x8 digits: Conv(1->8) ReLU, Conv(8->16, stride 2) ReLU, Linear(256->10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = self.relu1(self.conv1(x))
        x = self.relu2(self.conv2(x))
        return self.fc(self.flatten(x))


class FashionCNN(nn.Module):
    """28x28: [Conv BN ReLU MaxPool] x2, Conv ReLU, AvgPool(2), Linear(288->10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.relu3 = nn.ReLU()
        # 7x7 -> 3x3 (floor). No padding, so count_include_pad changes nothing
        # but stops the exporter from adding a (zero) Pad before AveragePool.
        self.pool3 = nn.AvgPool2d(2, count_include_pad=False)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32 * 3 * 3, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        x = self.pool3(self.relu3(self.conv3(x)))
        return self.fc(self.flatten(x))


class ConvBNReLU6(nn.Sequential):
    def __init__(self, cin, cout, kernel, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(
            cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(cout)
        self.relu6 = nn.ReLU6()


class SeparableBlock(nn.Module):
    """Depthwise 3x3 Conv BN ReLU6, pointwise 1x1 Conv BN ReLU6 (+ residual)."""

    def __init__(self, cin, cout, stride=1, residual=False):
        super().__init__()
        assert not residual or (cin == cout and stride == 1)
        self.residual = residual
        self.dw = ConvBNReLU6(cin, cin, 3, stride=stride, groups=cin)
        self.pw = ConvBNReLU6(cin, cout, 1)

    def forward(self, x):
        y = self.pw(self.dw(x))
        return x + y if self.residual else y


class FashionMobileNet(nn.Module):
    """Stem Conv(s2) BN ReLU6, separable blocks 16->32(s2), 32->32(+res), 32->64, GAP, Linear."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBNReLU6(1, 16, 3, stride=2)  # 14x14
        self.block1 = SeparableBlock(16, 32, stride=2)  # 7x7
        self.block2 = SeparableBlock(32, 32, residual=True)
        self.block3 = SeparableBlock(32, 64)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.stem(x))))
        return self.fc(self.flatten(self.pool(x)))


TOKENS, PATCH, DIM, HEADS, MLP = 49, 4, 32, 2, 64
HEAD_DIM = DIM // HEADS

# Debian's python3-torch does its matrix products with the reference
# (netlib) BLAS, a few times slower than its oneDNN convolutions. In training
# mode the transformer therefore computes its Linear layers as 1x1
# convolutions and its batched matmuls as grouped 1-D convolutions: the same
# sums of products, a few times faster. In eval mode (the test accuracy, the
# ONNX export) it runs the plain F.linear and torch.matmul, so the exported
# graph has the MatMul/Gemm/Add nodes of nn.Linear and torch.matmul.


class Linear(nn.Linear):
    """nn.Linear; as a 1x1 convolution in training mode (see above)."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        x2 = x.reshape(-1, self.in_features, 1, 1)
        y = F.conv2d(x2, self.weight[:, :, None, None], self.bias)
        return y.reshape(*x.shape[:-1], self.out_features)


def matmul(a, b, training: bool):
    """torch.matmul of (N, H, M, K) by (N, H, K, P); a grouped conv in training."""
    if not training:
        return torch.matmul(a, b)
    n, h, m, k = a.shape
    p = b.shape[-1]
    # Group g = (n, h): out[g, m, :] = sum_k a[g, m, k] * b[g, k, :], a 1-D
    # convolution of b (G*K channels, length P) with G*M kernels of width 1.
    out = F.conv1d(b.reshape(1, n * h * k, p), a.reshape(n * h * m, k, 1), groups=n * h)
    return out.reshape(n, h, m, p)


class Attention(nn.Module):
    """2-head self-attention from Linear layers (no nn.MultiheadAttention)."""

    def __init__(self):
        super().__init__()
        self.q = Linear(DIM, DIM)
        self.k = Linear(DIM, DIM)
        self.v = Linear(DIM, DIM)
        self.proj = Linear(DIM, DIM)
        self.scale = 1.0 / math.sqrt(HEAD_DIM)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):  # (N, 49, 32)
        # Literal sizes everywhere so the exported Reshapes have constant shapes.
        q = self.q(x).reshape(-1, TOKENS, HEADS, HEAD_DIM).transpose(1, 2)  # (N,2,49,16)
        k = self.k(x).reshape(-1, TOKENS, HEADS, HEAD_DIM).permute(0, 2, 3, 1)  # (N,2,16,49)
        v = self.v(x).reshape(-1, TOKENS, HEADS, HEAD_DIM).transpose(1, 2)  # (N,2,49,16)
        att = self.softmax(matmul(q, k, self.training) * self.scale)  # (N,2,49,49)
        o = matmul(att, v, self.training).transpose(1, 2).reshape(-1, TOKENS, DIM)
        return self.proj(o)


class EncoderBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(DIM)
        self.attn = Attention()
        self.ln2 = nn.LayerNorm(DIM)
        self.fc1 = Linear(DIM, MLP)
        self.gelu = nn.GELU()  # exact (erf) form
        self.fc2 = Linear(MLP, DIM)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(self.gelu(self.fc1(self.ln2(x))))


class FashionTransformer(nn.Module):
    """Tiny ViT: 49 patches of 4x4, dim 32, 2 blocks of 2 heads, Linear(1568->10)."""

    def __init__(self):
        super().__init__()
        self.embed = Linear(PATCH * PATCH, DIM)
        self.pos = nn.Parameter(torch.zeros(1, TOKENS, DIM))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList([EncoderBlock() for _ in range(2)])
        self.ln = nn.LayerNorm(DIM)
        self.flatten = nn.Flatten()
        self.head = Linear(TOKENS * DIM, 10)

    def forward(self, x):  # (N, 1, 28, 28)
        x = x.reshape(-1, 7, PATCH, 7, PATCH).permute(0, 1, 3, 2, 4)
        x = x.reshape(-1, TOKENS, PATCH * PATCH)  # (N, 49, 16), row-major patches
        x = self.embed(x) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.flatten(self.ln(x)))


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


@dataclass
class Recipe:
    build: Callable[[], nn.Module]
    dataset: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0


RECIPES: dict[str, Recipe] = {
    "digits-cnn": Recipe(DigitsCNN, "digits", epochs=30, batch_size=32, lr=3e-3),
    "fashion-cnn": Recipe(FashionCNN, "fashion-mnist", epochs=6, batch_size=128, lr=3e-3),
    "fashion-mobilenet": Recipe(
        FashionMobileNet, "fashion-mnist", epochs=10, batch_size=128, lr=5e-3
    ),
    "fashion-transformer": Recipe(
        FashionTransformer, "fashion-mnist", epochs=5, batch_size=256, lr=3e-3, weight_decay=0.05
    ),
}


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return np.concatenate(
            [model(torch.from_numpy(x[i : i + 1000])).numpy() for i in range(0, len(x), 1000)]
        )


def train(name: str, recipe: Recipe) -> tuple[nn.Module, float]:
    x_train, y_train = datasets.load(recipe.dataset, "train")
    x_test, y_test = datasets.load(recipe.dataset, "test")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = recipe.build()
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps_per_epoch = math.ceil(len(y_train) / recipe.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch, pct_start=0.15
    )
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    seconds = 0.0
    for epoch in range(recipe.epochs):
        start = time.perf_counter()
        model.train()
        perm = torch.from_numpy(rng.permutation(len(y_train)))
        total = 0.0
        for i in range(0, len(perm), recipe.batch_size):
            idx = perm[i : i + recipe.batch_size]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        seconds += time.perf_counter() - start
        top1 = (predict(model, x_test).argmax(1) == y_test).mean()
        print(
            f"[{name}] epoch {epoch + 1}/{recipe.epochs}: loss {total / len(perm):.4f} "
            f"test top-1 {top1:.4f} ({seconds:.1f} s)",
            flush=True,
        )
    model.eval()
    return model, seconds


# --------------------------------------------------------------------------
# Export and check
# --------------------------------------------------------------------------


def verify(onnx_path: Path, dataset: str, torch_logits: np.ndarray) -> dict:
    """models/verify_onnx.verify, in this process or under the venv's Python."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        python = os.environ.get("QUANT_OPT_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
        with tempfile.TemporaryDirectory() as tmp:
            logits_path = Path(tmp) / "torch_logits.npy"
            np.save(logits_path, torch_logits)
            out = subprocess.run(
                [python, str(HERE / "verify_onnx.py"), str(onnx_path), dataset, str(logits_path)],
                check=True,
                capture_output=True,
                text=True,
            )
        return json.loads(out.stdout)
    sys.path.insert(0, str(HERE))
    from verify_onnx import verify as verify_in_process

    return verify_in_process(onnx_path, dataset, torch_logits)


def export(name: str, recipe: Recipe, model: nn.Module, seconds: float) -> dict:
    out_dir = HERE / name
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    x_test, y_test = datasets.load(recipe.dataset, "test")
    model.eval()
    torch.onnx.export(
        model,
        torch.from_numpy(x_test[:1]),
        str(onnx_path),
        opset_version=17,
        do_constant_folding=True,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    torch_logits = predict(model, x_test)
    check = verify(onnx_path, recipe.dataset, torch_logits)
    metrics = {
        "torch_top1": float((torch_logits.argmax(1) == y_test).mean()),
        "onnxruntime_top1": check["onnxruntime_top1"],
        "params": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(seconds, 1),
        "ops": check["ops"],
        "dataset": recipe.dataset,
        "epochs": recipe.epochs,
        "max_abs_logit_diff": check["max_abs_logit_diff"],
        "compute_nodes": check["compute_nodes"],
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(
        f"[{name}] params {metrics['params']}, torch top-1 {metrics['torch_top1']:.4f}, "
        f"onnxruntime top-1 {metrics['onnxruntime_top1']:.4f}, max |logit diff| "
        f"{check['max_abs_logit_diff']:.3g}, argmax agreement {check['argmax_agreement']:.4f}, "
        f"batch-1 diff {check['batch1_max_abs_diff']:.3g}, "
        f"{onnx_path.stat().st_size} bytes, {check['num_nodes']} nodes",
        flush=True,
    )
    print(f"[{name}] ops: {' '.join(check['ops'])}", flush=True)
    print(f"[{name}] Conv/Gemm/MatMul: {' '.join(check['compute_nodes'])}", flush=True)
    if check["disallowed_ops"]:
        raise SystemExit(f"[{name}] ops outside the allowed set: {check['disallowed_ops']}")
    if metrics["torch_top1"] != metrics["onnxruntime_top1"]:
        print(f"[{name}] WARNING: torch and onnxruntime top-1 differ", flush=True)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(RECIPES), help="train just this model")
    args = parser.parse_args()
    torch.set_num_threads(2)
    np.random.seed(0)
    for name, recipe in RECIPES.items():
        if args.only and name != args.only:
            continue
        model, seconds = train(name, recipe)
        export(name, recipe, model, seconds)


if __name__ == "__main__":
    main()
