-- Sales: daily aggregates from the stream, Prophet forecasts and their accuracy.

-- The newest event time a batch saw: the stream's event-time watermark is the maximum over the
-- query's committed batches minus the allowed lateness (kept in the same transaction as the rows).
ALTER TABLE stream_batches ADD COLUMN max_event_time DATETIME(6) NULL;

-- Units and revenue per day, store and item (sales_aggregation keeps it; additive, exactly once).
CREATE TABLE IF NOT EXISTS daily_sales (
  sale_date DATE NOT NULL,
  store_id BIGINT NOT NULL,
  item_id BIGINT NOT NULL,
  units BIGINT NOT NULL,
  revenue DECIMAL(16, 2) NOT NULL,
  sale_lines BIGINT NOT NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (sale_date, store_id, item_id),
  KEY ix_daily_sales_series (store_id, item_id, sale_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Event ids already counted in daily_sales, kept while they are younger than the watermark, so a
-- re-sent event is recognised and counted once (older ones are late and rejected anyway).
CREATE TABLE IF NOT EXISTS sales_counted_events (
  event_id VARCHAR(64) NOT NULL,
  sale_date DATE NOT NULL,
  PRIMARY KEY (event_id),
  KEY ix_counted_date (sale_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per forecast run; run_key is the forecast origin and name, so re-running replaces it.
CREATE TABLE IF NOT EXISTS forecast_runs (
  run_key VARCHAR(64) NOT NULL,
  as_of DATE NOT NULL,
  horizon INT NOT NULL,
  series INT NOT NULL,
  fallback_series INT NOT NULL,
  smape_prophet DOUBLE NULL,
  smape_seasonal_naive DOUBLE NULL,
  coverage_95_prophet DOUBLE NULL,
  mlflow_run_id VARCHAR(64) NULL,
  params_json TEXT NOT NULL,
  finished_at DATETIME(6) NOT NULL,
  PRIMARY KEY (run_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The forecast: one row per run, day, store and item, with 80% and 95% intervals.
CREATE TABLE IF NOT EXISTS sales_forecasts (
  run_key VARCHAR(64) NOT NULL,
  forecast_date DATE NOT NULL,
  store_id BIGINT NOT NULL,
  item_id BIGINT NOT NULL,
  yhat DOUBLE NOT NULL,
  yhat_lower_80 DOUBLE NOT NULL,
  yhat_upper_80 DOUBLE NOT NULL,
  yhat_lower_95 DOUBLE NOT NULL,
  yhat_upper_95 DOUBLE NOT NULL,
  method VARCHAR(16) NOT NULL,
  fallback_reason VARCHAR(128) NULL,
  PRIMARY KEY (run_key, forecast_date, store_id, item_id),
  KEY ix_forecast_series (store_id, item_id, forecast_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Held-out accuracy of each method per series, from the backtest inside every forecast run.
CREATE TABLE IF NOT EXISTS forecast_accuracy (
  run_key VARCHAR(64) NOT NULL,
  store_id BIGINT NOT NULL,
  item_id BIGINT NOT NULL,
  method VARCHAR(16) NOT NULL,
  mae DOUBLE NULL,
  rmse DOUBLE NULL,
  r2 DOUBLE NULL,
  smape DOUBLE NULL,
  mase DOUBLE NULL,
  coverage_80 DOUBLE NULL,
  coverage_95 DOUBLE NULL,
  n_points INT NOT NULL,
  PRIMARY KEY (run_key, store_id, item_id, method)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Power BI views ------------------------------------------------------------------------------
CREATE OR REPLACE VIEW v_daily_sales AS
  SELECT sale_date, store_id, item_id, units, revenue, sale_lines FROM daily_sales;

-- The newest run's forecast per series.
CREATE OR REPLACE VIEW v_latest_forecasts AS
  SELECT f.*, r.as_of
  FROM sales_forecasts f
  JOIN forecast_runs r ON r.run_key = f.run_key
  WHERE r.as_of = (SELECT MAX(as_of) FROM forecast_runs);

-- How accurate past forecasts turned out once the actual sales arrived (realised, not backtest).
CREATE OR REPLACE VIEW v_forecast_vs_actual AS
  SELECT f.run_key, r.as_of, f.forecast_date, DATEDIFF(f.forecast_date, r.as_of) AS days_ahead,
         f.store_id, f.item_id, f.method, f.yhat, f.yhat_lower_95, f.yhat_upper_95,
         COALESCE(s.units, 0) AS actual_units,
         ABS(COALESCE(s.units, 0) - f.yhat) AS abs_error,
         (COALESCE(s.units, 0) BETWEEN f.yhat_lower_95 AND f.yhat_upper_95) AS inside_95
  FROM sales_forecasts f
  JOIN forecast_runs r ON r.run_key = f.run_key
  LEFT JOIN daily_sales s
    ON s.sale_date = f.forecast_date AND s.store_id = f.store_id AND s.item_id = f.item_id
  WHERE f.forecast_date <= (SELECT MAX(sale_date) FROM daily_sales);
