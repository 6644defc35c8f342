-- Platform tables shared by every stream job.

-- One row per (query, micro-batch). Written in the same transaction as the batch's rows, so it is
-- also the exactly-once ledger: a replayed batch finds its row and becomes a no-op.
CREATE TABLE IF NOT EXISTS stream_batches (
  query_name VARCHAR(128) NOT NULL,
  batch_id BIGINT NOT NULL,
  rows_in BIGINT NOT NULL,
  rows_written BIGINT NOT NULL,
  rows_quarantined BIGINT NOT NULL,
  late_rows BIGINT NOT NULL DEFAULT 0,
  duration_ms BIGINT NOT NULL,
  started_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NOT NULL,
  PRIMARY KEY (query_name, batch_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every record that failed its contract, with where it came from and why. Keyed by its source
-- position so a replay never doubles it.
CREATE TABLE IF NOT EXISTS quarantined_events (
  source_topic VARCHAR(128) NOT NULL,
  source_partition INT NOT NULL,
  source_offset BIGINT NOT NULL,
  query_name VARCHAR(128) NOT NULL,
  batch_id BIGINT NOT NULL,
  reason_code VARCHAR(32) NOT NULL,
  reason VARCHAR(512) NOT NULL,
  raw_key VARCHAR(512) NULL,
  raw_value MEDIUMTEXT NULL,
  kafka_timestamp DATETIME(6) NULL,
  quarantined_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (source_topic, source_partition, source_offset),
  KEY ix_quarantine_reason (reason_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
