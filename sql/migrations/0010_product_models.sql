-- Product models (review risk, sales volume): their predictions with SHAP reasons, and the drift
-- checks of the model_monitoring DAG (`retail-pulse products score`, `products drift`).

-- Feature set product_v2: review counts and mean rating over the last 90 days instead of ever
-- (a total only grows, so it drifts forever); v1 snapshots cannot be represented any more.
DELETE FROM product_features WHERE feature_set = 'product_v1';
ALTER TABLE product_features CHANGE COLUMN reviews_all reviews_90 DOUBLE NULL;
ALTER TABLE product_features CHANGE COLUMN avg_rating avg_rating_90 DOUBLE NULL;

-- One row per (model, version, snapshot day, store-item): a re-run of the same version on the
-- same day replaces its rows (idempotent). top_features: JSON list of {feature, value, contribution}.
CREATE TABLE IF NOT EXISTS product_predictions (
  model_name VARCHAR(128) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  model_version VARCHAR(32) NOT NULL,
  as_of DATE NOT NULL,
  store_id BIGINT NOT NULL,
  item_id BIGINT NOT NULL,
  prediction DOUBLE NOT NULL,
  lower_bound DOUBLE NULL,
  upper_bound DOUBLE NULL,
  flagged TINYINT NULL,
  top_features TEXT NOT NULL,
  reason VARCHAR(512) NOT NULL,
  run_id VARCHAR(250) NOT NULL,
  scored_at DATETIME(6) NOT NULL,
  PRIMARY KEY (model_name, model_version, as_of, store_id, item_id),
  KEY ix_product_predictions_run (kind, scored_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per model, day and feature: the reference (training snapshots) against the current snapshot.
-- feature 'prediction' is the drift of the model's predictions.
CREATE TABLE IF NOT EXISTS model_drift (
  model_name VARCHAR(128) NOT NULL,
  model_version VARCHAR(32) NOT NULL,
  current_as_of DATE NOT NULL,
  feature VARCHAR(64) NOT NULL,
  test VARCHAR(16) NOT NULL,
  statistic DOUBLE NOT NULL,
  p_value DOUBLE NOT NULL,
  psi DOUBLE NOT NULL,
  drift TINYINT NOT NULL,
  psi_flag TINYINT NOT NULL,
  checked_at DATETIME(6) NOT NULL,
  PRIMARY KEY (model_name, model_version, current_as_of, feature)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per model and day: the verdict of the drift check and why (retrain = 1: a challenger is trained).
CREATE TABLE IF NOT EXISTS drift_checks (
  model_name VARCHAR(128) NOT NULL,
  model_version VARCHAR(32) NOT NULL,
  current_as_of DATE NOT NULL,
  reference_as_of VARCHAR(255) NOT NULL,
  drifted_features INT NOT NULL,
  prediction_psi DOUBLE NOT NULL,
  metric VARCHAR(32) NULL,
  metric_at_training DOUBLE NULL,
  metric_now DOUBLE NULL,
  decayed TINYINT NOT NULL,
  retrain TINYINT NOT NULL,
  reason VARCHAR(512) NOT NULL,
  mlflow_run_id VARCHAR(64) NULL,
  checked_at DATETIME(6) NOT NULL,
  PRIMARY KEY (model_name, current_as_of)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- For Power BI: every store-item of the latest scoring run, its risk with reasons next to its
-- expected sales volume (next 28 days, 80% interval) from the same snapshot day.
CREATE OR REPLACE VIEW v_product_risk AS
SELECT r.as_of, r.store_id, r.item_id, r.prediction AS risk, r.flagged, r.reason AS risk_reason,
       r.top_features AS risk_top_features, r.model_version AS risk_model_version,
       v.prediction AS expected_units_28, v.lower_bound AS units_lower_80, v.upper_bound AS units_upper_80,
       v.reason AS volume_reason, v.model_version AS volume_model_version, r.scored_at
FROM product_predictions r
LEFT JOIN product_predictions v
  ON v.as_of = r.as_of AND v.store_id = r.store_id AND v.item_id = r.item_id
 AND v.run_id = r.run_id AND v.kind = 'volume'
WHERE r.kind = 'risk'
  AND r.run_id = (SELECT p.run_id FROM product_predictions p WHERE p.kind = 'risk' ORDER BY p.scored_at DESC LIMIT 1);

-- For Power BI: the latest drift check of each model and its features.
CREATE OR REPLACE VIEW v_model_drift AS
SELECT c.model_name, c.model_version, c.current_as_of, c.reason, c.retrain, c.decayed, c.prediction_psi,
       d.feature, d.test, d.p_value, d.psi, d.drift, d.psi_flag
FROM drift_checks c
JOIN model_drift d ON d.model_name = c.model_name AND d.model_version = c.model_version
 AND d.current_as_of = c.current_as_of
WHERE c.current_as_of = (SELECT MAX(x.current_as_of) FROM drift_checks x WHERE x.model_name = c.model_name);
