-- Operator signals (issue 26): how far each stream query is behind its topic after a run, and
-- every failed Airflow task's alert.

-- One row per (query, check, topic partition): the partition's end offset, the first offset the
-- query has not committed in stream_batches yet, the difference (messages still unread: the lag) and the
-- event time of the newest record the query has landed. Written after each stream run and by
-- `retail-pulse ingest lag`.
CREATE TABLE IF NOT EXISTS stream_lag (
  query_name VARCHAR(128) NOT NULL,
  checked_at DATETIME(6) NOT NULL,
  topic VARCHAR(249) NOT NULL,
  kafka_partition INT NOT NULL,
  end_offset BIGINT NOT NULL,
  next_offset BIGINT NOT NULL,
  unread BIGINT NOT NULL,
  newest_event_time DATETIME(6) NULL,
  PRIMARY KEY (query_name, checked_at, topic, kafka_partition)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Each check of each query: messages still unread over its partitions, and how old the newest
-- event it landed was at the time of the check (Power BI, the reports, the DAGs' lag gate).
CREATE OR REPLACE VIEW v_stream_lag AS
SELECT query_name, checked_at, topic, COUNT(*) AS partitions, SUM(unread) AS unread, MAX(newest_event_time) AS newest_event_time,
       ROUND(TIMESTAMPDIFF(SECOND, MAX(newest_event_time), checked_at) / 3600, 1) AS newest_event_age_hours,
       checked_at = (SELECT MAX(x.checked_at) FROM stream_lag x WHERE x.query_name = l.query_name) AS is_latest
FROM stream_lag l
GROUP BY query_name, checked_at, topic;

-- One row per failed task (after its last retry), written by the DAGs' on-failure notifier; a
-- callback run twice for the same try never doubles it.
CREATE TABLE IF NOT EXISTS pipeline_alerts (
  alert_id BIGINT NOT NULL AUTO_INCREMENT,
  raised_at DATETIME(6) NOT NULL,
  dag_id VARCHAR(250) NOT NULL,
  task_id VARCHAR(250) NOT NULL,
  run_id VARCHAR(250) NOT NULL,
  try_number INT NOT NULL,
  logical_date DATETIME(6) NULL,
  reason VARCHAR(2048) NOT NULL,
  log_url VARCHAR(1024) NULL,
  mailed_to VARCHAR(512) NULL,
  PRIMARY KEY (alert_id),
  UNIQUE KEY ux_alert_try (dag_id, run_id, task_id, try_number),
  KEY ix_alert_raised (raised_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE OR REPLACE VIEW v_pipeline_alerts AS
SELECT alert_id, raised_at, DATE(raised_at) AS alert_date, dag_id, task_id, run_id, try_number, logical_date,
       reason, log_url, mailed_to IS NOT NULL AS mailed
FROM pipeline_alerts;

-- The duplicate-keys gate groups sale lines by their business key (receipt, store, item, time).
ALTER TABLE raw_transactions ADD KEY ix_raw_txn_line (txn_id, store_id, item_id, event_time);
