-- Recommendations: implicit interactions from shopper events, ALS top-N per visitor, the popular
-- fallback and every evaluation of ALS against the popularity baseline.

-- One row per (visitor, item) (interactions stream; each event counted once: an event id already
-- in raw_shopper_events is a replay). confidence = the weighted count under the stream's weights.
CREATE TABLE IF NOT EXISTS interactions (
  visitor_id BIGINT NOT NULL,
  item_id BIGINT NOT NULL,
  views INT NOT NULL,
  carts INT NOT NULL,
  purchases INT NOT NULL,
  confidence DOUBLE NOT NULL,
  first_seen DATETIME(6) NOT NULL,
  last_seen DATETIME(6) NOT NULL,
  PRIMARY KEY (visitor_id, item_id),
  KEY ix_interactions_item (item_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The current top-N per visitor (`retail-pulse recommendations recommend` replaces the whole set in one transaction).
-- fallback = 1: the visitor had no factors in the model (cold start) and got the popular items.
CREATE TABLE IF NOT EXISTS recommendations (
  visitor_id BIGINT NOT NULL,
  rank_no INT NOT NULL,
  item_id BIGINT NOT NULL,
  score DOUBLE NOT NULL,
  fallback TINYINT NOT NULL,
  model_version VARCHAR(32) NOT NULL,
  run_id VARCHAR(64) NOT NULL,
  generated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (visitor_id, rank_no),
  KEY ix_recommendations_item (item_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The popular items every unknown visitor gets (replaced with the recommendations).
CREATE TABLE IF NOT EXISTS popular_items (
  rank_no INT NOT NULL,
  item_id BIGINT NOT NULL,
  visitors INT NOT NULL,
  run_id VARCHAR(64) NOT NULL,
  generated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (rank_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every holdout evaluation of a training run: ALS and the popularity baseline on the same split.
CREATE TABLE IF NOT EXISTS recommender_evaluations (
  mlflow_run_id VARCHAR(64) NOT NULL,
  method VARCHAR(16) NOT NULL,
  evaluated_at DATETIME(6) NOT NULL,
  model_version VARCHAR(32) NULL,
  k INT NOT NULL,
  precision_at_k DOUBLE NOT NULL,
  recall_at_k DOUBLE NOT NULL,
  map_at_k DOUBLE NOT NULL,
  ndcg_at_k DOUBLE NOT NULL,
  users INT NOT NULL,
  train_cutoff DATETIME(6) NOT NULL,
  PRIMARY KEY (mlflow_run_id, method)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- For Power BI: each visitor's list, with how many visitors interacted with each recommended item.
CREATE OR REPLACE VIEW v_recommendations AS
SELECT r.visitor_id, r.rank_no, r.item_id, r.score, r.fallback, r.model_version, r.generated_at,
       COALESCE(i.visitors, 0) AS item_visitors
FROM recommendations r
LEFT JOIN (SELECT item_id, COUNT(*) AS visitors FROM interactions GROUP BY item_id) i ON i.item_id = r.item_id;

-- ALS against popularity per training run, side by side.
CREATE OR REPLACE VIEW v_recommender_quality AS
SELECT a.mlflow_run_id, a.evaluated_at, a.model_version, a.k, a.users,
       a.map_at_k AS als_map, p.map_at_k AS popularity_map,
       a.ndcg_at_k AS als_ndcg, p.ndcg_at_k AS popularity_ndcg,
       a.precision_at_k AS als_precision, p.precision_at_k AS popularity_precision,
       a.recall_at_k AS als_recall, p.recall_at_k AS popularity_recall,
       CASE WHEN p.map_at_k > 0 THEN ROUND(a.map_at_k / p.map_at_k, 3) END AS map_lift
FROM recommender_evaluations a
JOIN recommender_evaluations p ON p.mlflow_run_id = a.mlflow_run_id AND p.method = 'popularity'
WHERE a.method = 'als';
