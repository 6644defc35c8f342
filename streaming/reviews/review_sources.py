"""Review and social-post sources for the producers.

* :func:`corpus_reviews`: real labelled drug reviews (the training corpus closest to product
  reviews) attached to catalogue products: positive reviews go to better products more often, so
  sentiment per product follows quality, as it would in real data.
* :func:`generated_reviews`: a seeded generator whose star rating follows the product's quality
  and whose words follow the rating (aspect phrases, the product's name, sometimes the store).
* :func:`offline_posts` and :func:`llm_posts`: social posts with the seed's class balance (35%
  positive, 35% neutral, 30% negative), mentioning catalogue products and stores, carrying the
  intended label and ``synthetic=1``. The LLM path (groq) runs only with ``GROQ_API_KEY``.

Every record has a deterministic ``event_id``: a replay is recognised downstream.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import numpy as np

from common.catalogue import Catalogue

log = logging.getLogger("retail_pulse.posts")
POST_BALANCE = {"positive": 0.35, "neutral": 0.35, "negative": 0.30}
PLATFORMS = ("twitter", "instagram", "reddit", "facebook")
DEFAULT_LLM_MODEL = "llama-3.3-70b-versatile"

PHRASES = {
    "positive": (
        "Love the {product}!",
        "The {product} is excellent value.",
        "Works great, would buy again.",
        "Really happy with this {kind}.",
        "Best {kind} I have owned.",
        "Quality is superb and it arrived fast.",
        "Five stars, highly recommend the {product}.",
        "My family loves it.",
        "Great taste and fair price.",
        "Exceeded my expectations.",
    ),
    "neutral": (
        "It's okay.",
        "Does the job, nothing special.",
        "An average {kind}.",
        "Arrived on Tuesday.",
        "The {product} is what the label says.",
        "Packaging was standard.",
        "Similar to the one I had before.",
        "Price is about what you would expect.",
        "I use it most days.",
        "Not sure yet, will update later.",
    ),
    "negative": (
        "The {product} broke after a week.",
        "Terrible quality, returning it.",
        "Not worth the money.",
        "Very disappointed with this {kind}.",
        "It stopped working and support never answered.",
        "Tastes stale and the box was damaged.",
        "Cheap materials, avoid the {product}.",
        "Worst purchase this year.",
        "Smaller than pictured and overpriced.",
        "Would not buy again.",
    ),
}
STORE_PHRASES = ("Bought it at the {city} store.", "Picked it up at {store}.", "Staff at {store} were helpful.")
POST_PHRASES = {
    "positive": (
        "Just tried the {product} from {store} and wow 😍",
        "Shoutout to {store}, the {product} is a winner",
        "Can't stop using my new {product}! #happy",
        "{brand} never disappoints, {product} is great",
    ),
    "neutral": (
        "Anyone tried the {product}? Thinking about it",
        "{store} moved the {kind} aisle again",
        "Picked up the {product} at {store} today",
        "Is {brand} the same as the store brand?",
    ),
    "negative": (
        "The {product} I got at {store} is already broken 😠",
        "Never buying {brand} again, {product} is awful",
        "Queue at {store} took 40 minutes, and the {product} was out of stock",
        "{product} is a rip-off",
    ),
}


def _spread(rng: np.random.Generator, since: date, days: int, n: int) -> list[datetime]:
    seconds = np.sort(rng.integers(0, days * 86400, n))
    return [datetime.combine(since, datetime.min.time()) + timedelta(seconds=int(s)) for s in seconds]


def _fill(template: str, cat: Catalogue, item: int, store: int) -> str:
    p, s = cat.product(item), cat.stores[store - 1]
    return template.format(product=p.name, kind=p.product_type.lower(), brand=p.brand, store=s.name, city=s.city)


def rating_for(quality: float, rng: np.random.Generator) -> int:
    """Stars 1-5 around 1 + 4 x quality."""
    return int(np.clip(np.rint(rng.normal(1 + 4 * quality, 0.9)), 1, 5))


def generated_reviews(cat: Catalogue, seed: int, since: date, days: int, per_day: int) -> Iterator[dict]:
    rng = np.random.default_rng(seed)
    n = per_day * days
    popularity = rng.dirichlet(np.full(len(cat.products), 0.8))
    for k, created in enumerate(_spread(rng, since, days, n)):
        item = int(rng.choice(len(cat.products), p=popularity)) + 1
        store = int(rng.integers(1, len(cat.stores) + 1))
        rating = rating_for(cat.product(item).quality, rng)
        mood = "negative" if rating <= 2 else "neutral" if rating == 3 else "positive"
        sentences = [str(rng.choice(PHRASES[mood])) for _ in range(int(rng.integers(1, 3)))]
        if rng.random() < 0.4:
            sentences.append(str(rng.choice(PHRASES["neutral"])))
        if rng.random() < 0.3:
            sentences.append(str(rng.choice(STORE_PHRASES)))
        yield {
            "event_id": f"rev-gen{seed}-{since:%Y%m%d}-{k}",
            "review_id": f"gen{seed}-{since:%Y%m%d}-{k}",
            "product_id": str(item),
            "text": " ".join(_fill(s, cat, item, store) for s in sentences),
            "rating": rating,
            "label": None,
            "created_at": created,
            "store_id": store,
            "source": "generator",
        }


def corpus_reviews(cat: Catalogue, frame, seed: int, since: date, days: int) -> Iterator[dict]:
    """Rows of a labelled corpus (``text, label, corpus``) as reviews of catalogue products."""
    rng = np.random.default_rng(seed)
    quality = np.array([p.quality for p in cat.products])
    weights = {"positive": quality, "neutral": np.ones_like(quality), "negative": 1 - quality}
    for k, (row, created) in enumerate(
        zip(frame.itertuples(index=False), _spread(rng, since, days, len(frame)), strict=True)
    ):
        p = weights[row.label] / weights[row.label].sum()
        item = int(rng.choice(len(quality), p=p)) + 1
        yield {
            "event_id": f"rev-{row.corpus}-{k}",
            "review_id": f"{row.corpus}-{k}",
            "product_id": str(item),
            "text": row.text[:5000],
            "rating": None,
            "label": row.label,
            "created_at": created,
            "store_id": int(rng.integers(1, len(cat.stores) + 1)),
            "source": row.corpus,
        }


def balanced_labels(n: int, rng: np.random.Generator) -> list[str]:
    """Exactly the seed balance (rounded), shuffled."""
    counts = {label: round(n * share) for label, share in POST_BALANCE.items()}
    counts["positive"] += n - sum(counts.values())
    labels = [label for label, c in counts.items() for _ in range(c)]
    rng.shuffle(labels)
    return labels


def _post(seed: int, k: int, text: str, label: str, item: int, store: int, created: datetime, platform: str) -> dict:
    return {
        "event_id": f"post-{seed}-{k}",
        "post_id": f"{seed}-{k}",
        "platform": platform,
        "product_id": str(item),
        "text": text[:5000],
        "created_at": created,
        "store_id": store,
        "label": label,
        "synthetic": 1,
    }


def _mentions(cat: Catalogue, rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    return [(int(rng.integers(1, len(cat.products) + 1)), int(rng.integers(1, len(cat.stores) + 1))) for _ in range(n)]


def offline_posts(cat: Catalogue, seed: int, n: int, since: date, days: int) -> Iterator[dict]:
    rng = np.random.default_rng(seed)
    labels, stamps, mentions = balanced_labels(n, rng), _spread(rng, since, days, n), _mentions(cat, rng, n)
    for k, (label, created, (item, store)) in enumerate(zip(labels, stamps, mentions, strict=True)):
        text = _fill(str(rng.choice(POST_PHRASES[label])), cat, item, store)
        yield _post(seed, k, text, label, item, store, created, str(rng.choice(PLATFORMS)))


class LLMUnavailable(RuntimeError):
    pass


def llm_posts(
    cat: Catalogue,
    seed: int,
    n: int,
    since: date,
    days: int,
    api_key: str,
    model: str = DEFAULT_LLM_MODEL,
    per_request: int = 10,
    min_interval_s: float = 2.0,
    max_seconds: float = 300.0,
    retries: int = 3,
    client=None,
) -> Iterator[dict]:
    """Posts written by an LLM through groq, ``per_request`` per call, at most one call every
    ``min_interval_s``, each call retried ``retries`` times with backoff; stops at ``n`` posts or
    ``max_seconds``. Raises LLMUnavailable if the first call fails after its retries."""
    import groq

    client = client or groq.Groq(api_key=api_key, max_retries=0, timeout=30)
    rng = np.random.default_rng(seed)
    labels, stamps, mentions = balanced_labels(n, rng), _spread(rng, since, days, n), _mentions(cat, rng, n)
    started, made, last_call = time.monotonic(), 0, 0.0
    while made < n and time.monotonic() - started < max_seconds:
        chunk = list(range(made, min(n, made + per_request)))
        asks = [
            {
                "id": k,
                "sentiment": labels[k],
                "product": cat.product(mentions[k][0]).name,
                "store": cat.stores[mentions[k][1] - 1].name,
            }
            for k in chunk
        ]
        prompt = (
            "Write one short, realistic social-media post per request below, about the product and store named, "
            "with exactly the requested sentiment (negative, neutral or positive). Answer with a JSON object "
            '{"posts": [{"id": <id>, "text": "<post>"}]} and nothing else.\n' + json.dumps(asks)
        )
        for attempt in range(retries + 1):
            time.sleep(max(0.0, last_call + min_interval_s - time.monotonic()))
            last_call = time.monotonic()
            try:
                reply = client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": prompt}],
                    response_format={"type": "json_object"},
                    temperature=0.9,
                )
                texts = {int(p["id"]): str(p["text"]) for p in json.loads(reply.choices[0].message.content)["posts"]}
                break
            except (groq.APIError, ValueError, KeyError, TypeError) as exc:
                if attempt == retries:
                    if made == 0:
                        raise LLMUnavailable(f"groq model {model}: {exc}") from exc
                    log.warning("groq: giving up after %d posts: %s", made, exc)
                    return
                time.sleep(2**attempt)
        for k in chunk:
            if k in texts:
                item, store = mentions[k]
                yield _post(seed, k, texts[k], labels[k], item, store, stamps[k], str(rng.choice(PLATFORMS)))
        made += len(chunk)
    if made < n:
        log.warning("groq: stopped at %d of %d posts after the %.0f s cap", made, n, max_seconds)
