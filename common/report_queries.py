"""The queries the reports and the review insight read from MySQL's views, defined once: the text report
(`retail-pulse reporting text`), the HTML report (`retail-pulse reporting html`) and `retail-pulse reviews insight`."""

from __future__ import annotations

from common.db import query


def top_negative_products(settings, top: int, min_documents: int) -> list[dict]:
    """The items with the highest share of negative reviews and posts (all stores), named by the
    product dimension."""
    rows = query(
        settings,
        "SELECT s.item_id, p.product_name, SUM(s.documents), SUM(s.negative) / SUM(s.documents) AS share,"
        " SUM(s.positive) / SUM(s.documents) FROM v_product_sentiment s JOIN v_dim_product p ON p.item_id = s.item_id"
        " GROUP BY s.item_id, p.product_name HAVING SUM(s.documents) >= %s ORDER BY share DESC, s.item_id LIMIT %s",
        (min_documents, top),
    )
    return [
        {"item_id": i, "product": name, "documents": int(d), "negative_share": float(neg), "positive_share": float(pos)}
        for i, name, d, neg, pos in rows
    ]
