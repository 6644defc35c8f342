-- The analysts' star schema (issue 14): date, store and product dimensions over master data and
-- the facts, a view per result the dimensions join, and per-batch pipeline health with latency.

-- Per batch: the Kafka append time of its oldest record, so latency = commit time - that.
ALTER TABLE stream_batches ADD COLUMN first_arrival DATETIME(6) NULL AFTER max_event_time;

-- Master data: names of products and stores (`retail-pulse ingest catalogue` loads the demo catalogue or your CSVs).
CREATE TABLE IF NOT EXISTS product_catalogue (
  item_id BIGINT NOT NULL,
  product_name VARCHAR(255) NOT NULL,
  brand VARCHAR(128) NOT NULL,
  category VARCHAR(128) NOT NULL,
  source VARCHAR(32) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (item_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS store_catalogue (
  store_id BIGINT NOT NULL,
  store_name VARCHAR(255) NOT NULL,
  city VARCHAR(128) NOT NULL,
  source VARCHAR(32) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (store_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every day of 2000-2049 with its calendar attributes (ISO weeks start on Monday).
CREATE TABLE IF NOT EXISTS calendar (
  date_key DATE NOT NULL,
  year SMALLINT NOT NULL,
  quarter TINYINT NOT NULL,
  month TINYINT NOT NULL,
  month_name VARCHAR(9) NOT NULL,
  month_start DATE NOT NULL,
  iso_year SMALLINT NOT NULL,
  iso_week TINYINT NOT NULL,
  week_start DATE NOT NULL,
  day_of_month TINYINT NOT NULL,
  day_of_week TINYINT NOT NULL,
  day_name VARCHAR(9) NOT NULL,
  is_weekend TINYINT NOT NULL,
  PRIMARY KEY (date_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO calendar (date_key, year, quarter, month, month_name, month_start, iso_year, iso_week, week_start,
                      day_of_month, day_of_week, day_name, is_weekend)
SELECT d, YEAR(d), QUARTER(d), MONTH(d), DATE_FORMAT(d, '%M'), DATE_SUB(d, INTERVAL DAYOFMONTH(d) - 1 DAY),
       YEARWEEK(d, 3) DIV 100, WEEK(d, 3), DATE_SUB(d, INTERVAL WEEKDAY(d) DAY),
       DAYOFMONTH(d), WEEKDAY(d) + 1, DATE_FORMAT(d, '%W'), WEEKDAY(d) >= 5
FROM (
  SELECT DATE_ADD('2000-01-01', INTERVAL a.n + 10 * b.n + 100 * c.n + 1000 * e.n + 10000 * f.n DAY) AS d
  FROM (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
        UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a
  CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
        UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b
  CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
        UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c
  CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
        UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) e
  CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1) f
) days
WHERE d <= '2049-12-31';

-- Date dimension: the calendar from the first to the last day any fact or forecast covers.
CREATE OR REPLACE VIEW v_dim_date AS
SELECT c.*
FROM calendar c
JOIN (
  SELECT MIN(day) AS first_day, MAX(day) AS last_day FROM (
    SELECT MIN(sale_date) AS day FROM daily_sales UNION ALL SELECT MAX(sale_date) FROM daily_sales
    UNION ALL SELECT MIN(forecast_date) FROM sales_forecasts UNION ALL SELECT MAX(forecast_date) FROM sales_forecasts
    UNION ALL SELECT DATE(MIN(created_at)) FROM review_sentiment UNION ALL SELECT DATE(MAX(created_at)) FROM review_sentiment
    UNION ALL SELECT DATE(MIN(first_seen)) FROM interactions UNION ALL SELECT DATE(MAX(last_seen)) FROM interactions
    UNION ALL SELECT MIN(as_of) FROM product_predictions UNION ALL SELECT MAX(as_of) FROM product_predictions
  ) bounds
) r ON c.date_key BETWEEN r.first_day AND r.last_day;

-- Store dimension: every store in the master data or in a fact; unnamed ones are "store <id>".
CREATE OR REPLACE VIEW v_dim_store AS
SELECT ids.store_id, COALESCE(s.store_name, CONCAT('store ', ids.store_id)) AS store_name,
       COALESCE(s.city, 'unknown') AS city, (s.store_id IS NOT NULL) AS in_catalogue
FROM (
  SELECT store_id FROM store_catalogue
  UNION SELECT DISTINCT store_id FROM daily_sales
  UNION SELECT DISTINCT store_id FROM sales_forecasts
  UNION SELECT DISTINCT store_id FROM review_sentiment WHERE store_id IS NOT NULL
  UNION SELECT DISTINCT store_id FROM product_predictions
) ids
LEFT JOIN store_catalogue s ON s.store_id = ids.store_id;

-- Product dimension: every item in the master data or in a fact; unnamed ones are "item <id>".
CREATE OR REPLACE VIEW v_dim_product AS
SELECT ids.item_id, COALESCE(p.product_name, CONCAT('item ', ids.item_id)) AS product_name,
       COALESCE(p.brand, 'unknown') AS brand, COALESCE(p.category, 'unknown') AS category,
       (p.item_id IS NOT NULL) AS in_catalogue
FROM (
  SELECT item_id FROM product_catalogue
  UNION SELECT DISTINCT item_id FROM daily_sales
  UNION SELECT DISTINCT item_id FROM sales_forecasts
  UNION SELECT DISTINCT item_id FROM review_sentiment WHERE item_id IS NOT NULL
  UNION SELECT DISTINCT item_id FROM product_predictions
  UNION SELECT DISTINCT item_id FROM interactions
  UNION SELECT DISTINCT item_id FROM recommendations
) ids
LEFT JOIN product_catalogue p ON p.item_id = ids.item_id;

-- Every scored review and post, dated for the date dimension.
CREATE OR REPLACE VIEW v_reviews AS
SELECT doc_type, doc_id, item_id, store_id, DATE(created_at) AS review_date, created_at, sentiment, confidence,
       p_negative, p_positive, rating, given_label, source, synthetic, text, model_version
FROM review_sentiment;

-- Every entity found in a review or post, with the document's product, store, day and sentiment.
CREATE OR REPLACE VIEW v_entity_mentions AS
SELECT e.doc_type, e.doc_id, e.entity_label, e.entity_id, e.entity_text, r.item_id, r.store_id,
       DATE(r.created_at) AS review_date, r.sentiment
FROM review_entities e
JOIN review_sentiment r ON r.doc_type = e.doc_type AND r.doc_id = e.doc_id;

-- Pipeline health: one row per stream micro-batch. latency_ms: from the Kafka append of the
-- batch's oldest record to the batch's commit in MySQL (what the slowest record waited).
CREATE OR REPLACE VIEW v_pipeline_health AS
SELECT query_name, batch_id, DATE(finished_at) AS batch_date, started_at, finished_at, rows_in, rows_written,
       rows_quarantined, late_rows, duration_ms,
       CASE WHEN first_arrival IS NOT NULL
            THEN ROUND(TIMESTAMPDIFF(MICROSECOND, first_arrival, finished_at) / 1000) END AS latency_ms,
       CASE WHEN duration_ms > 0 THEN ROUND(rows_in * 1000 / duration_ms, 1) END AS rows_per_second,
       max_event_time
FROM stream_batches;
