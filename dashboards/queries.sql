-- The report's numbers in SQL (run as powerbi_reader), to check a Power BI page against.

-- Sales page: units and revenue per day for one store.
SELECT sale_date, SUM(units) AS units, SUM(revenue) AS revenue
FROM v_daily_sales WHERE store_id = 1 GROUP BY sale_date ORDER BY sale_date;

-- Forecast page: the next 30 days of one store-item with both bands and the method used.
SELECT forecast_date, yhat, yhat_lower_80, yhat_upper_80, yhat_lower_95, yhat_upper_95, method, fallback_reason
FROM v_latest_forecasts WHERE store_id = 1 AND item_id = 1 ORDER BY forecast_date;

-- Accuracy page: backtest SMAPE of the chosen methods vs the seasonal-naive baseline per run.
SELECT run_key, as_of, series, fallback_series, smape_chosen, smape_seasonal_naive,
       smape_chosen / smape_seasonal_naive AS smape_ratio, mase_chosen, coverage_80_chosen, coverage_95_chosen
FROM forecast_runs ORDER BY as_of;

-- Accuracy page: realised error and 95% coverage by days ahead, once actual sales arrived.
SELECT days_ahead, COUNT(*) AS points, ROUND(AVG(abs_error), 3) AS mae, ROUND(AVG(inside_95), 3) AS coverage_95
FROM v_forecast_vs_actual GROUP BY days_ahead ORDER BY days_ahead;

-- Series that got the seasonal-naive fallback in the newest run, and why.
SELECT store_id, item_id, fallback_reason
FROM v_latest_forecasts WHERE fallback_reason IS NOT NULL GROUP BY store_id, item_id, fallback_reason;

-- Recommendations: the chosen method against both popularities per training run, and the fallback share of the lists.
SELECT evaluated_at, model_version, k, users, chosen_method, chosen_map, popularity_map, recent_popularity_map, map_lift
FROM v_recommender_quality ORDER BY evaluated_at DESC;

SELECT ROUND(AVG(fallback), 4) AS fallback_share, COUNT(DISTINCT visitor_id) AS visitors FROM v_recommendations;

-- Product risk: the riskiest store-items of the latest scoring run, with reasons and expected sales.
SELECT store_id, item_id, ROUND(risk, 3) AS risk, risk_reason, ROUND(expected_units_28) AS units_28,
       ROUND(units_lower_80) AS low_80, ROUND(units_upper_80) AS high_80
FROM v_product_risk ORDER BY risk DESC LIMIT 10;

-- Which products will sell most over the newest run's horizon (all stores)?
SELECT p.product_name, p.category, ROUND(SUM(f.yhat)) AS forecast_units, ROUND(SUM(f.yhat_lower_95)) AS low_95,
       ROUND(SUM(f.yhat_upper_95)) AS high_95
FROM v_latest_forecasts f JOIN v_dim_product p USING (item_id)
GROUP BY p.product_name, p.category ORDER BY forecast_units DESC LIMIT 10;

-- What do customers say: the most criticised products, and what the documents name.
SELECT p.product_name, COUNT(*) AS documents, ROUND(AVG(r.sentiment = 'negative'), 3) AS negative_share
FROM v_reviews r JOIN v_dim_product p USING (item_id)
GROUP BY p.product_name HAVING documents >= 10 ORDER BY negative_share DESC LIMIT 10;

SELECT entity_label, entity_text, COUNT(*) AS mentions, ROUND(AVG(sentiment = 'negative'), 3) AS negative_share
FROM v_entity_mentions GROUP BY entity_label, entity_text ORDER BY mentions DESC LIMIT 20;

-- Weekly net sentiment per category (the date and product dimensions at work).
SELECT d.week_start, p.category, COUNT(*) AS documents,
       ROUND((SUM(r.sentiment = 'positive') - SUM(r.sentiment = 'negative')) / COUNT(*), 3) AS net_sentiment
FROM v_reviews r JOIN v_dim_date d ON d.date_key = r.review_date JOIN v_dim_product p ON p.item_id = r.item_id
GROUP BY d.week_start, p.category ORDER BY d.week_start, p.category;

-- Pipeline health per stream query and day: rows, bad rows, duration and latency.
SELECT batch_date, query_name, COUNT(*) AS batches, SUM(rows_in) AS rows_in, SUM(rows_quarantined) AS quarantined,
       SUM(late_rows) AS late, ROUND(AVG(duration_ms)) AS mean_ms, ROUND(MAX(latency_ms) / 1000, 1) AS max_latency_s
FROM v_pipeline_health GROUP BY batch_date, query_name ORDER BY batch_date DESC, query_name;
