-- Raw event tables, generated from streaming/contracts.py by `retail-pulse tools contracts --ddl`.

CREATE TABLE IF NOT EXISTS raw_transactions (
  event_id VARCHAR(64) NOT NULL,
  txn_id VARCHAR(64) NOT NULL,
  event_time DATETIME(6) NOT NULL,
  store_id BIGINT NOT NULL,
  item_id BIGINT NOT NULL,
  quantity BIGINT NOT NULL,
  unit_price DOUBLE NOT NULL,
  customer_id VARCHAR(64) NULL,
  kafka_topic VARCHAR(128) NOT NULL,
  kafka_partition INT NOT NULL,
  kafka_offset BIGINT NOT NULL,
  ingested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS raw_product_reviews (
  event_id VARCHAR(64) NOT NULL,
  review_id VARCHAR(64) NOT NULL,
  product_id VARCHAR(64) NOT NULL,
  text TEXT NOT NULL,
  rating BIGINT NULL,
  label VARCHAR(64) NULL,
  created_at DATETIME(6) NOT NULL,
  kafka_topic VARCHAR(128) NOT NULL,
  kafka_partition INT NOT NULL,
  kafka_offset BIGINT NOT NULL,
  ingested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS raw_social_posts (
  event_id VARCHAR(64) NOT NULL,
  post_id VARCHAR(64) NOT NULL,
  platform VARCHAR(32) NOT NULL,
  product_id VARCHAR(64) NULL,
  text TEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  kafka_topic VARCHAR(128) NOT NULL,
  kafka_partition INT NOT NULL,
  kafka_offset BIGINT NOT NULL,
  ingested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS raw_shopper_events (
  event_id VARCHAR(64) NOT NULL,
  event_time DATETIME(6) NOT NULL,
  visitor_id BIGINT NOT NULL,
  action VARCHAR(16) NOT NULL,
  item_id BIGINT NOT NULL,
  transaction_id VARCHAR(64) NULL,
  kafka_topic VARCHAR(128) NOT NULL,
  kafka_partition INT NOT NULL,
  kafka_offset BIGINT NOT NULL,
  ingested_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
