# Airflow 3.3 with the pipeline env beside it: DAG tasks run `$RP_PIPELINE_PYTHON -m jobs <domain> <command>`
# (the Spark driver; executors run on the spark-worker service).
# Spark's Kafka connector from Maven Central (jvm/pom.xml), as `make setup` fetches it for the local stack
FROM maven:3.9.9-eclipse-temurin-17 AS jars
COPY jvm/pom.xml /build/pom.xml
RUN mvn -q -B -f /build/pom.xml -P spark-kafka dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory=/build/jars/spark

FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/pipeline.lock /opt/retail_pulse/requirements/pipeline.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir \
    -r /opt/retail_pulse/requirements/pipeline.lock
COPY . /opt/retail_pulse
COPY --from=jars /build/jars/spark /opt/retail_pulse/.jars/spark
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps -e /opt/retail_pulse \
    && /opt/venv/bin/python -m models.reviews.text_corpora --fetch   # labelled text for `retail-pulse reviews train`
USER airflow
# the same interpreter path as in the Spark images (docker/pipeline.Dockerfile): PYSPARK_PYTHON works on both
ENV RP_PIPELINE_PYTHON=/opt/venv/bin/python PYSPARK_PYTHON=/opt/venv/bin/python RETAIL_PULSE_ENV=docker
