-- v_latest_forecasts showed every run of the newest as-of day (two runs of one day under different
-- names both appeared); it shows the newest run only: latest as-of day, then latest finish.
CREATE OR REPLACE VIEW v_latest_forecasts AS
  SELECT f.*, r.as_of
  FROM sales_forecasts f
  JOIN forecast_runs r ON r.run_key = f.run_key
  WHERE r.run_key = (SELECT x.run_key FROM forecast_runs x ORDER BY x.as_of DESC, x.finished_at DESC LIMIT 1);
