"""Record sources for the producers: seeded generators with realistic structure.

Each source yields contract-shaped dicts with deterministic ``event_id`` values, so replaying the
same source with the same seed produces records that downstream tables recognise as the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import numpy as np


def generated_transactions(
    seed: int = 7, stores: int = 10, items: int = 50, start: date = date(2024, 1, 1), days: int | None = None
) -> Iterator[dict]:
    """Sale lines for ``stores`` x ``items`` day by day: store/item heterogeneity, trend, weekly and
    yearly seasonality, occasional promotions (lower price, more units). Endless unless ``days``."""
    rng = np.random.default_rng(seed)
    store_scale = rng.lognormal(0.0, 0.3, stores)
    item_scale = rng.lognormal(0.0, 0.6, items)
    base_price = np.round(rng.uniform(1.0, 40.0, items), 2)
    weekly = np.array([0.85, 0.9, 0.95, 1.0, 1.15, 1.35, 1.2])
    n = 0
    day = 0
    while days is None or day < days:
        today = start + timedelta(days=day)
        season = 1 + 0.2 * math.sin(2 * math.pi * (today.timetuple().tm_yday - 80) / 365.25)
        level = 0.3 * weekly[today.weekday()] * season * (1 + 0.0008 * day)
        promo = rng.random((stores, items)) < 0.03
        counts = rng.poisson(level * np.outer(store_scale, item_scale) * np.where(promo, 1.8, 1.0))
        for s, i in zip(*np.nonzero(counts), strict=False):
            price = round(float(base_price[i] * (0.8 if promo[s, i] else 1.0)), 2)
            for _ in range(counts[s, i]):
                seconds = int(rng.integers(8 * 3600, 22 * 3600))
                yield {
                    "event_id": f"txn-gen{seed}-{n:010d}",
                    "txn_id": f"r{seed}-{day}-{s + 1}-{n}",
                    "event_time": datetime.combine(today, datetime.min.time()) + timedelta(seconds=seconds),
                    "store_id": int(s + 1),
                    "item_id": int(i + 1),
                    "quantity": int(rng.integers(1, 4)),
                    "unit_price": price,
                    "customer_id": None if rng.random() < 0.4 else f"c{int(rng.integers(1, 20000))}",
                }
                n += 1
        day += 1


SOURCES = {"generated": generated_transactions}
