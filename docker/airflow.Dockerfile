# Airflow 3.3 with the pipeline env beside it: DAG tasks run `$RP_PIPELINE_PYTHON -m jobs...`
# (the Spark driver; executors run on the spark-worker service).
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/pipeline.lock /opt/retail_pulse/requirements/pipeline.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir \
    -r /opt/retail_pulse/requirements/pipeline.lock
COPY . /opt/retail_pulse
RUN echo /opt/retail_pulse > /opt/venv/lib/python3.11/site-packages/retail_pulse.pth \
    && /opt/venv/bin/python -m models.text_corpora --fetch   # labelled text for jobs.train_sentiment
USER airflow
# the same interpreter path as in the Spark images (docker/pipeline.Dockerfile): PYSPARK_PYTHON works on both
ENV RP_PIPELINE_PYTHON=/opt/venv/bin/python PYSPARK_PYTHON=/opt/venv/bin/python RETAIL_PULSE_ENV=docker
