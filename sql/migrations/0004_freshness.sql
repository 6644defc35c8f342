-- Freshness guard: each forecast run records how old its newest input was and, when it ran on
-- stale input by explicit override, the warning (NULL when the input was fresh).
ALTER TABLE forecast_runs ADD COLUMN newest_input DATE NULL, ADD COLUMN warning VARCHAR(512) NULL;
