-- Analysts see why records were rejected, without their raw payloads (those stay readable by the
-- retail_operator role only): one row per quarantined record.
CREATE OR REPLACE VIEW v_quarantine_reasons AS
SELECT source_topic, source_partition, source_offset, query_name, batch_id, reason_code, reason,
       kafka_timestamp, quarantined_at
FROM quarantined_events;
