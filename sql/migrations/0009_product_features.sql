-- The feature store: product features per (store, item), versioned by feature set and as-of day
-- (`retail-pulse products features`; models/products/features.py). A snapshot for as_of D reads only facts dated before D.
CREATE TABLE IF NOT EXISTS product_features (
  feature_set VARCHAR(32) NOT NULL,
  as_of DATE NOT NULL,
  store_id BIGINT NOT NULL,
  item_id BIGINT NOT NULL,
  category VARCHAR(64) NOT NULL,
  units_7 DOUBLE NULL,
  units_28 DOUBLE NULL,
  sales_trend DOUBLE NULL,
  price_28 DOUBLE NULL,
  discount_28 DOUBLE NULL,
  price_vs_category DOUBLE NULL,
  reviews_28 DOUBLE NULL,
  reviews_all DOUBLE NULL,
  avg_rating DOUBLE NULL,
  negative_share_28 DOUBLE NULL,
  positive_share_28 DOUBLE NULL,
  text_chars_28 DOUBLE NULL,
  computed_at DATETIME(6) NOT NULL,
  PRIMARY KEY (feature_set, as_of, store_id, item_id),
  KEY ix_product_features_item (item_id, as_of)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
