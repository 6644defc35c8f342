-- The exactly-once ledger records which Kafka offsets each batch covered, {topic: {partition:
-- [first, last]}}: a batch id replayed with other offsets is an error, never a silent skip.
ALTER TABLE stream_batches ADD COLUMN offsets TEXT NULL;
