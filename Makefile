# Retail Pulse: one command for the pipeline (make demo), one for the tests (make test).
PY      := .venvs/pipeline/bin/python
AF_PY   := .venvs/airflow/bin/python
CORE    := mariadb,kafka,mlflow

.PHONY: setup up down status demo test test-pipeline test-airflow lint bench contracts

setup:            ## create both virtualenvs from the lock files, install Debian packages if missing
	@bash scripts/setup.sh

up: setup         ## start MariaDB, the broker, MLflow and Airflow (idempotent)
	@$(PY) -m jobs.stack up

down:             ## stop exactly what `make up` started
	@$(PY) -m jobs.stack down

status:           ## health of each service
	@$(PY) -m jobs.stack status

DEMO_DAY := 2025-03-10

demo: up          ## raw ingest of 50,000 transactions (1% malformed), then retail_pipeline through Airflow
	$(PY) -m jobs.produce --event transaction --limit 50000 --malformed-fraction 0.01
	$(PY) -m jobs.stream raw_transactions --available-now
	$(PY) -m jobs.stack airflow --log .stack/logs/demo_retail_pipeline.log \
	  dags test retail_pipeline $(DEMO_DAY) -c '{"demo_history_days": 800}'
	$(PY) -m jobs.report

test: setup       ## the whole suite on real services (unit, integration, DAG integrity, e2e)
	@$(PY) -m jobs.stack up --services $(CORE)
	@$(MAKE) --no-print-directory test-pipeline test-airflow

test-pipeline:
	$(PY) -m pytest tests/unit tests/integration

test-airflow:  # e2e in its own process: dag.test() must not see DAG modules cached by the DagBag checks
	$(AF_PY) -m pytest tests/dags
	$(AF_PY) -m pytest tests/e2e

lint: setup
	.venvs/pipeline/bin/ruff check .
	.venvs/pipeline/bin/ruff format --check .

bench: setup      ## benchmarks; results in bench/results/*.json
	@$(PY) -m jobs.stack up --services $(CORE)
	$(PY) -m bench.ingest
	$(PY) -m bench.forecast

contracts:        ## regenerate the raw-table migration from the contracts
	$(PY) -m jobs.contracts --ddl > sql/migrations/0002_raw_tables.sql
