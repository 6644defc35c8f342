-- Forecasts by a method chosen per series (issue 13): the choice averages the best candidates of
-- a rolling-origin backtest inside the training window; its name lists them ("a+b+c").
ALTER TABLE sales_forecasts MODIFY COLUMN method VARCHAR(64) NOT NULL;
-- method "chosen" rows say which methods the choice made before the holdout averaged.
ALTER TABLE forecast_accuracy
  ADD COLUMN method_used VARCHAR(64) NULL AFTER method,
  MODIFY COLUMN method VARCHAR(64) NOT NULL;
-- The run's held-out figures of the choice, its gaps and how often each method was chosen.
ALTER TABLE forecast_runs
  ADD COLUMN smape_chosen DOUBLE NULL AFTER fallback_series,
  ADD COLUMN mase_chosen DOUBLE NULL AFTER smape_chosen,
  ADD COLUMN mase_seasonal_naive DOUBLE NULL AFTER mase_chosen,
  ADD COLUMN coverage_80_chosen DOUBLE NULL AFTER mase_seasonal_naive,
  ADD COLUMN coverage_95_chosen DOUBLE NULL AFTER coverage_80_chosen,
  ADD COLUMN gap_periods INT NULL AFTER coverage_95_chosen,
  ADD COLUMN methods_json TEXT NULL AFTER gap_periods;

-- The views read every column of sales_forecasts: recreate them on the widened one.
CREATE OR REPLACE VIEW v_latest_forecasts AS
  SELECT f.*, r.as_of
  FROM sales_forecasts f
  JOIN forecast_runs r ON r.run_key = f.run_key
  WHERE r.run_key = (SELECT x.run_key FROM forecast_runs x ORDER BY x.as_of DESC, x.finished_at DESC LIMIT 1);
