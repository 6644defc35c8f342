"""Shopper-event sources for the producers and the recommender's evaluation.

Every source yields ``shopper_event`` contract dicts with deterministic ``event_id`` values (a
replay of the same source is recognised downstream), or, through :func:`events_frame`, a frame of
``visitor_id, item_id, action, event_time`` for the models.

* Retailrocket's ``events.csv``: ``timestamp,visitorid,event,itemid,transactionid`` (timestamp in
  epoch milliseconds, event ``view|addtocart|transaction``), from any path.
* Ta-Feng grocery lines (real, fetched by ``make setup``): each line is a ``transaction`` event of
  its customer for its product on its day.
* A seeded funnel generator: long-tail item popularity, visitors with tastes for a few item
  clusters, sessions of views, view -> cart and cart -> purchase conversion in the ranges public
  e-commerce funnels report (a few percent of views carted, a third of carts bought).
* Rating files (evaluation only): ``user,item,rating,timestamp`` (MovieLens-style names such as
  ``userId,movieId`` accepted; ``::``-separated MovieLens files too); every rating is a seen item,
  those at or above the threshold are also relevant (column ``relevant``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from streaming.files import TA_FENG_PATH, DatasetError, _read_csv, content_id, read_sales_file

RETAILROCKET = ["timestamp", "visitorid", "event", "itemid"]
RATING_NAMES = {
    "user": ("user", "user_id", "userid", "visitorid", "visitor_id", "customer_id"),
    "item": ("item", "item_id", "itemid", "movieid", "movie_id", "product_id"),
    "rating": ("rating", "score", "stars"),
    "timestamp": ("timestamp", "time", "event_time", "date", "created_at"),
}
FUNNEL = {"cart_rate": 0.06, "purchase_rate": 0.35, "views_per_session": 4.0, "revisit": 0.3, "explore": 0.15}


def _integers(frame: pd.DataFrame, column: str, path, label: str | None = None) -> pd.Series:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() | (values < 0) | (values % 1 != 0)
    if bad.any():
        row = int(bad.idxmax())
        raise DatasetError(f"{path}: line {row + 2}: {label or column}={frame[column].iloc[row]!r} is not an id >= 0")
    return values.astype("int64")


def read_retailrocket(path: str | Path) -> pd.DataFrame:
    """Retailrocket's events file -> ``visitor_id, item_id, action, event_time, transaction_id``."""
    path = Path(path)
    raw = _read_csv(path)
    missing = [c for c in RETAILROCKET if c not in raw.columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)} (Retailrocket events need {','.join(RETAILROCKET)}"
            "[,transactionid])"
        )
    stamps = pd.to_numeric(raw["timestamp"].str.strip(), errors="coerce")
    bad = stamps.isna() | (stamps < 0)
    if bad.any():
        row = int(bad.idxmax())
        value = raw["timestamp"].iloc[row]
        raise DatasetError(f"{path}: line {row + 2}: timestamp={value!r} is not epoch milliseconds")
    actions = raw["event"].str.strip().str.lower()
    wrong = ~actions.isin(["view", "addtocart", "transaction"])
    if wrong.any():
        row = int(wrong.idxmax())
        raise DatasetError(
            f"{path}: line {row + 2}: event={raw['event'].iloc[row]!r} is not one of view, addtocart, transaction"
        )
    transaction = raw["transactionid"].str.strip() if "transactionid" in raw else ""
    return pd.DataFrame(
        {
            "visitor_id": _integers(raw, "visitorid", path),
            "item_id": _integers(raw, "itemid", path),
            "action": actions,
            "event_time": pd.to_datetime(stamps.astype("int64"), unit="ms"),
            "transaction_id": pd.Series(transaction, index=raw.index).replace("", None),
        }
    )


def read_ta_feng(path: str | Path = TA_FENG_PATH) -> pd.DataFrame:
    """Ta-Feng lines as transaction events (visitor = customer, item = product, time = the day)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} is missing: run `make setup` (it fetches Ta-Feng)")
    sales = read_sales_file(path)
    return pd.DataFrame(
        {
            "visitor_id": pd.to_numeric(sales["customer_id"]).astype("int64"),
            "item_id": sales["item_id"].astype("int64"),
            "action": "transaction",
            "event_time": pd.to_datetime(sales["date"]) + pd.Timedelta(hours=12),
            "transaction_id": None,
        }
    )


def _column(raw: pd.DataFrame, role: str, path) -> str:
    lowered = {c.lower(): c for c in raw.columns}
    for name in RATING_NAMES[role]:
        if name in lowered:
            return lowered[name]
    raise DatasetError(f"{path}: no {role} column (one of {', '.join(RATING_NAMES[role])}); found {', '.join(raw)}")


def read_ratings(path: str | Path, min_rating: float) -> pd.DataFrame:
    """A rating file -> events: every rating is a ``transaction`` event (the user has seen the item: it
    is never recommended to them again); column ``relevant`` marks ratings >= min_rating, the only
    ones a recommendation can hit. Timestamps: epoch seconds or ISO dates."""
    path = Path(path)
    first_line = ""
    if path.is_file():
        with path.open(encoding="utf-8", errors="replace") as fh:
            first_line = fh.readline()
    if "::" in first_line:
        lines = pd.read_csv(path, sep="::", engine="python", header=None, dtype=str)
        raw = lines.iloc[:, :4].set_axis(["user", "item", "rating", "timestamp"], axis=1)
    else:
        raw = _read_csv(path)
    user, item, rating, stamp = (_column(raw, role, path) for role in RATING_NAMES)
    values = pd.to_numeric(raw[rating].str.strip(), errors="coerce")
    if values.isna().any():
        row = int(values.isna().idxmax())
        raise DatasetError(f"{path}: line {row + 2}: {rating}={raw[rating].iloc[row]!r} is not a number")
    text = raw[stamp].str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    times = pd.to_datetime(numeric, unit="s") if numeric.notna().all() else pd.to_datetime(text, errors="coerce")
    if times.isna().any():
        row = int(times.isna().idxmax())
        raise DatasetError(f"{path}: line {row + 2}: {stamp}={raw[stamp].iloc[row]!r} is not a time")
    return pd.DataFrame(
        {
            "visitor_id": _integers(raw, user, path),
            "item_id": _integers(raw, item, path),
            "action": "transaction",
            "event_time": times.dt.tz_localize(None) if times.dt.tz is not None else times,
            "transaction_id": None,
            "relevant": values >= min_rating,
        }
    )


def generated_funnel(
    seed: int = 7,
    visitors: int = 2000,
    items: int = 500,
    start: date = date(2024, 1, 1),
    days: int = 60,
    clusters: int = 12,
) -> pd.DataFrame:
    """Seeded shopper sessions (see module doc), sorted by event time."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, items + 1) ** 1.1  # long tail, item 1 the most popular
    rng.shuffle(popularity)
    cluster_of = rng.integers(0, clusters, items)
    members = [np.flatnonzero(cluster_of == c) for c in range(clusters)]
    members = [m if len(m) else np.arange(items) for m in members]
    weights = [popularity[m] / popularity[m].sum() for m in members]
    tastes = rng.dirichlet(np.full(clusters, 0.15), visitors)  # most visitors like one or two clusters
    sessions = rng.poisson(days / 10, visitors) + 1
    rows: list[tuple] = []
    origin = datetime.combine(start, datetime.min.time())
    for visitor in range(visitors):
        seen: list[int] = []
        for _ in range(sessions[visitor]):
            at = origin + timedelta(seconds=float(rng.uniform(0, days * 86400)))
            explore = rng.random() < FUNNEL["explore"]
            cluster = rng.integers(clusters) if explore else rng.choice(clusters, p=tastes[visitor])
            for step in range(1 + rng.poisson(FUNNEL["views_per_session"] - 1)):
                if seen and rng.random() < FUNNEL["revisit"]:
                    item = seen[rng.integers(len(seen))]
                else:
                    item = int(rng.choice(members[cluster], p=weights[cluster]))
                    seen.append(item)
                t = at + timedelta(seconds=60 * step)
                rows.append((visitor + 1, item + 1, "view", t))
                if rng.random() < FUNNEL["cart_rate"]:
                    rows.append((visitor + 1, item + 1, "addtocart", t + timedelta(seconds=20)))
                    if rng.random() < FUNNEL["purchase_rate"]:
                        rows.append((visitor + 1, item + 1, "transaction", t + timedelta(seconds=40)))
    frame = pd.DataFrame(rows, columns=["visitor_id", "item_id", "action", "event_time"])
    frame["transaction_id"] = None
    return frame.sort_values("event_time", kind="stable").reset_index(drop=True)


def shopper_events(frame: pd.DataFrame, id_prefix: str) -> Iterator[dict]:
    """A frame of events -> shopper_event contract records with ids ``<id_prefix>-<row>``."""
    for n, row in enumerate(frame.itertuples(index=False)):
        yield {
            "event_id": f"{id_prefix}-{n:09d}",
            "event_time": row.event_time.to_pydatetime(),
            "visitor_id": int(row.visitor_id),
            "action": row.action,
            "item_id": int(row.item_id),
            "transaction_id": row.transaction_id if isinstance(row.transaction_id, str) else None,
        }


def source_events(
    source: str,
    path: Path | None = None,
    seed: int = 7,
    visitors: int = 2000,
    items: int = 500,
    until: date | None = None,
    days: int = 60,
) -> tuple[pd.DataFrame, str]:
    """(events frame, event-id prefix) of a producer source: events (Retailrocket file), ta_feng_events
    or funnel (the generator, ``days`` ending on ``until``, default yesterday UTC)."""
    if source == "events":
        return read_retailrocket(path), f"ev-f{content_id(Path(path))}"
    if source == "ta_feng_events":
        return read_ta_feng(), "ev-tafeng"
    until = until or datetime.now(UTC).date() - timedelta(days=1)
    start = until - timedelta(days=days - 1)
    frame = generated_funnel(seed, visitors, items, start, days)
    return frame, f"ev-gen{seed}x{visitors}x{items}-{start:%Y%m%d}x{days}"


FORMATS = ("retailrocket", "ratings", "ta_feng")


def read_events(path: str | Path, fmt: str, min_rating: float = 4.0) -> pd.DataFrame:
    """A user's events file in one of FORMATS -> ``visitor_id, item_id, action, event_time``."""
    if fmt == "retailrocket":
        return read_retailrocket(path)
    if fmt == "ratings":
        return read_ratings(path, min_rating)
    if fmt == "ta_feng":
        return read_ta_feng(path)
    raise DatasetError(f"unknown events format {fmt!r}; expected one of {', '.join(FORMATS)}")
