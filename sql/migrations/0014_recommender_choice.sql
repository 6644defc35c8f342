-- Recommendations by a method chosen per training run (issue 24): the holdout scores the choice
-- (method "chosen", its method and parameters in method_used) beside ALS, all-time popularity and
-- popularity over a recent window (method "recent_popularity").
ALTER TABLE recommender_evaluations
  MODIFY COLUMN method VARCHAR(32) NOT NULL,
  ADD COLUMN method_used VARCHAR(255) NULL AFTER method;

-- Per training run: the choice against both popularities and ALS. Runs from before the choice
-- existed served ALS: their chosen_* columns are ALS's.
CREATE OR REPLACE VIEW v_recommender_quality AS
SELECT a.mlflow_run_id, a.evaluated_at, a.model_version, a.k, a.users,
       COALESCE(c.method_used, 'als') AS chosen_method,
       COALESCE(c.map_at_k, a.map_at_k) AS chosen_map,
       a.map_at_k AS als_map, p.map_at_k AS popularity_map, r.map_at_k AS recent_popularity_map,
       COALESCE(c.ndcg_at_k, a.ndcg_at_k) AS chosen_ndcg,
       a.ndcg_at_k AS als_ndcg, p.ndcg_at_k AS popularity_ndcg, r.ndcg_at_k AS recent_popularity_ndcg,
       a.precision_at_k AS als_precision, p.precision_at_k AS popularity_precision,
       a.recall_at_k AS als_recall, p.recall_at_k AS popularity_recall,
       CASE WHEN p.map_at_k > 0 THEN ROUND(COALESCE(c.map_at_k, a.map_at_k) / p.map_at_k, 3) END AS map_lift,
       CASE WHEN r.map_at_k > 0 THEN ROUND(COALESCE(c.map_at_k, a.map_at_k) / r.map_at_k, 3) END AS recent_map_lift
FROM recommender_evaluations a
JOIN recommender_evaluations p ON p.mlflow_run_id = a.mlflow_run_id AND p.method = 'popularity'
LEFT JOIN recommender_evaluations r ON r.mlflow_run_id = a.mlflow_run_id AND r.method = 'recent_popularity'
LEFT JOIN recommender_evaluations c ON c.mlflow_run_id = a.mlflow_run_id AND c.method = 'chosen'
WHERE a.method = 'als';
