"""The product / store / brand catalogue shared by the review and post generators and the NER ruler.

Item and store ids are the transaction generator's (items 1..N, stores 1..S), so review facts join
daily sales by (store_id, item_id). Names are seeded: the same seed and sizes give the same
catalogue everywhere (producers, the scoring job, tests). Each product has a hidden ``quality`` in
[0, 1] that the review generator turns into ratings and words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

BRANDS = (
    "Northwind",
    "Bluefield",
    "Acorn & Oak",
    "Kestrel",
    "Lumina",
    "Harbor Lane",
    "Verdant",
    "Ironbridge",
    "Maple Crest",
    "Solace",
    "Tidewater",
    "Brightfold",
)
PRODUCT_TYPES = (
    "Coffee Beans",
    "Olive Oil",
    "Running Shoes",
    "Yoga Mat",
    "Blender",
    "Desk Lamp",
    "Backpack",
    "Green Tea",
    "Dark Chocolate",
    "Shampoo",
    "Headphones",
    "Water Bottle",
    "Toaster",
    "Rain Jacket",
    "Notebook",
    "Granola",
    "Face Cream",
    "Frying Pan",
    "Phone Charger",
    "Dog Food",
)
CITIES = (
    "Riverside",
    "Springfield",
    "Lakeview",
    "Fairmont",
    "Oak Hill",
    "Brookside",
    "Westgate",
    "Milltown",
    "Cedar Park",
    "Harborview",
    "Eastfield",
    "Northbridge",
    "Stonebrook",
    "Greenwood",
    "Sunnyvale",
    "Kingsport",
)
STORE_CHAIN = "Retail Pulse"


@dataclass(frozen=True)
class Product:
    item_id: int
    name: str  # "Northwind Coffee Beans"
    brand: str
    product_type: str
    quality: float


@dataclass(frozen=True)
class Store:
    store_id: int
    name: str  # "Retail Pulse Riverside"
    city: str


@dataclass(frozen=True)
class Catalogue:
    products: tuple[Product, ...]
    stores: tuple[Store, ...]

    @property
    def brands(self) -> list[str]:
        return sorted({p.brand for p in self.products})

    def product(self, item_id: int) -> Product:
        return self.products[item_id - 1]


@cache
def catalogue(items: int = 50, stores: int = 10, seed: int = 7) -> Catalogue:
    """``items`` distinct products (brand x type, seeded order) and ``stores`` stores."""
    if items > len(BRANDS) * len(PRODUCT_TYPES):
        raise ValueError(f"the catalogue names at most {len(BRANDS) * len(PRODUCT_TYPES)} products")
    rng = np.random.default_rng(seed)
    pairs = [(b, t) for b in BRANDS for t in PRODUCT_TYPES]
    order = rng.permutation(len(pairs))[:items]
    quality = rng.beta(2.5, 1.6, items)  # most products are fine, some are poor
    products = tuple(
        Product(i + 1, f"{pairs[k][0]} {pairs[k][1]}", pairs[k][0], pairs[k][1], round(float(quality[i]), 3))
        for i, k in enumerate(order)
    )
    cities = [CITIES[i % len(CITIES)] + ("" if i < len(CITIES) else f" {i // len(CITIES) + 1}") for i in range(stores)]
    return Catalogue(products, tuple(Store(i + 1, f"{STORE_CHAIN} {c}", c) for i, c in enumerate(cities)))


MASTER_FINGERPRINT = (
    "SELECT (SELECT COUNT(*) FROM product_catalogue), (SELECT MAX(updated_at) FROM product_catalogue),"
    " (SELECT COUNT(*) FROM store_catalogue), (SELECT MAX(updated_at) FROM store_catalogue)"
)


def master_fingerprint(settings) -> tuple:
    """Changes whenever master data is loaded or updated (`retail-pulse ingest catalogue`)."""
    from common.db import query

    return tuple(query(settings, MASTER_FINGERPRINT, role="writer")[0])


def stored_catalogue(settings) -> Catalogue | None:
    """The master data loaded into MySQL (product_catalogue, store_catalogue) as a Catalogue (a product's
    category is its type; quality unknown), or None when none is loaded."""
    from common.db import query

    products = query(
        settings, "SELECT item_id, product_name, brand, category FROM product_catalogue ORDER BY item_id", role="writer"
    )
    stores = query(settings, "SELECT store_id, store_name, city FROM store_catalogue ORDER BY store_id", role="writer")
    if not products and not stores:
        return None
    return Catalogue(
        tuple(Product(int(i), name, brand, category, float("nan")) for i, name, brand, category in products),
        tuple(Store(int(i), name, city) for i, name, city in stores),
    )
