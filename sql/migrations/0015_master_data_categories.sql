-- Feature set product_v3: a product's category comes from the master data loaded with
-- `retail-pulse ingest catalogue` (v2 took the demo catalogue's product type). The v2 snapshots are
-- a cache of the old definition: dropped, rebuilt as v3 on the next run that needs them.
DELETE FROM product_features WHERE feature_set = 'product_v2';
