# The pipeline image: Spark driver code, jobs and producers (used by the spark and airflow services).
# Spark's Kafka connector from Maven Central (jvm/pom.xml), as `make setup` fetches it for the local stack
FROM maven:3.9.9-eclipse-temurin-17 AS jars
COPY jvm/pom.xml /build/pom.xml
RUN mvn -q -B -f /build/pom.xml -P spark-kafka dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory=/build/jars/spark

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/retail_pulse
COPY requirements/pipeline.lock requirements/pipeline.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements/pipeline.lock
COPY . .
COPY --from=jars /build/jars/spark /opt/retail_pulse/.jars/spark
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps -e /opt/retail_pulse \
    && /opt/venv/bin/python -m models.reviews.text_corpora --fetch   # labelled text for `retail-pulse reviews train`
ENV PATH=/opt/venv/bin:$PATH PYSPARK_PYTHON=/opt/venv/bin/python RETAIL_PULSE_ENV=docker
