# Retail Pulse: one command for the pipeline (make demo), one for the tests (make test).
PY      := .venvs/pipeline/bin/python
RP      := .venvs/pipeline/bin/retail-pulse
AF_PY   := .venvs/airflow/bin/python
CORE    := mariadb,kafka,mlflow

.PHONY: setup up up-cluster down status demo serve report test test-pipeline test-airflow lint bench contracts

setup:            ## create both virtualenvs from the lock files, install Debian packages if missing
	@bash scripts/setup.sh

up: setup         ## start MariaDB, Apache Kafka, MLflow and Airflow (idempotent)
	@$(RP) tools stack up

up-cluster: setup ## also a Spark standalone master + worker; jobs use it with RP_SPARK_MASTER=spark://127.0.0.1:7077
	@$(RP) tools stack up --services mariadb,kafka,mlflow,spark-master,spark-worker

down:             ## stop exactly what `make up` / `make up-cluster` / `make serve` started
	@$(RP) tools serve down
	@$(RP) tools stack down

status:           ## health of each service
	@$(RP) tools stack status

DEMO_DAY  := $(shell date -u -d yesterday +%F)
DEMO_PREV := $(shell date -u -d '2 days ago' +%F)
DEMO_BACK := $(shell date -u -d '29 days ago' +%F)
DEMO_DAYS := 800
# the review history covers the 90-day review features of the oldest training snapshot (6 weekly
# snapshots, the newest labelled one 28 days back): a shorter one makes reviews_90 climb from snapshot
# to snapshot, and the risk model would meet a holdout outside everything it trained on
REVIEW_DAYS := 180

demo: up          ## the operator's path: producers -> Kafka, then the DAGs triggered through Airflow's scheduler
	@echo "== master data: the demo catalogue's product and store names (retail-pulse ingest catalogue) for the analysts' dimensions"
	$(RP) ingest catalogue demo
	@echo "== producers: $(DEMO_DAYS) days of store-item sales up to $(DEMO_DAY) (1% malformed) -> Kafka"
	$(RP) ingest produce --source generated --until $(DEMO_DAY) --days $(DEMO_DAYS) --malformed-fraction 0.01
	@echo "== transactions_ingest (REST API trigger, no logical date, as the UI's Trigger button)"
	$(RP) tools trigger transactions_ingest
	@echo "== retail_pipeline for $(DEMO_BACK), four weeks back: its forecast meets the actual sales in v_forecast_vs_actual"
	$(RP) tools trigger retail_pipeline --logical-date $(DEMO_BACK)
	@echo "== retail_pipeline for $(DEMO_DAY), the scheduled slot of the last complete day"
	$(RP) tools trigger retail_pipeline --logical-date $(DEMO_DAY)
	@echo "== producers: reviews (real labelled + generated, 1% malformed) for $(REVIEW_DAYS) days and social posts for 90 days up to $(DEMO_DAY)"
	$(RP) ingest produce --source review_corpus --until $(DEMO_DAY) --days $(REVIEW_DAYS) --no-progress
	$(RP) ingest produce --source reviews --until $(DEMO_DAY) --days $(REVIEW_DAYS) --per-day 40 --malformed-fraction 0.01 --no-progress
	$(RP) ingest produce --source posts --until $(DEMO_DAY) --days 90 --posts 1000 --no-progress
	@echo "== review_analysis_pipeline, the 00:00 slot of $(DEMO_DAY) (the daily retrain's slot)"
	$(RP) tools trigger review_analysis_pipeline --logical-date $(DEMO_DAY)
	@echo "== producers: 60 days of shopper sessions (funnel generator: 2,000 visitors, 500 items, 1% malformed) up to $(DEMO_DAY)"
	$(RP) ingest produce --source funnel --until $(DEMO_DAY) --days 60 --malformed-fraction 0.01 --no-progress
	@echo "== recommendation_pipeline for $(DEMO_DAY): interactions -> ALS vs popularity -> top-10 per visitor"
	$(RP) tools trigger recommendation_pipeline --logical-date $(DEMO_DAY)
	@echo "== model_monitoring for $(DEMO_PREV): product features -> no champion yet -> train risk + sales volume -> score with SHAP reasons"
	$(RP) tools trigger model_monitoring --logical-date $(DEMO_PREV)
	@echo "== model_monitoring for $(DEMO_DAY): drift check against the champions -> retrain only if needed -> score"
	$(RP) tools trigger model_monitoring --logical-date $(DEMO_DAY)
	$(RP) reporting text

serve:            ## every champion over HTTP (mlflow models serve), ports RP_SERVING_PORT..+4; see README
	@$(RP) tools serve up

report: up        ## the HTML report of what is in MySQL: .stack/report/index.html
	$(RP) reporting html

test: setup       ## the whole suite on real services (unit, integration, DAG integrity, e2e)
	@$(RP) tools stack up --services $(CORE)
	@$(MAKE) --no-print-directory test-pipeline test-airflow

test-pipeline:
	$(PY) -m pytest tests/unit tests/integration

test-airflow:  # DAG integrity in the Airflow env; e2e drives an Airflow of its own through the REST API
	$(AF_PY) -m pytest tests/dags
	$(PY) -m pytest tests/e2e

lint: setup       ## ruff, the formatter, and the import contracts in pyproject.toml (layers, domains, no cycles)
	.venvs/pipeline/bin/ruff check .
	.venvs/pipeline/bin/ruff format --check .
	.venvs/pipeline/bin/lint-imports --no-cache

bench: setup      ## benchmarks; results in bench/results/*.json
	@$(RP) tools stack up --services $(CORE)
	$(PY) -m bench.ingest
	$(PY) -m bench.sales
	$(PY) -m bench.reviews
	$(PY) -m bench.recommendations
	$(PY) -m bench.products
	$(PY) -m bench.serving

contracts:        ## regenerate the raw-table migration from the contracts
	$(RP) tools contracts --ddl > sql/migrations/0002_raw_tables.sql
