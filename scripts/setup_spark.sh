#!/usr/bin/env bash
# Makes the venv's pip-installed Spark a Delta-enabled local Spark, for both
# `.venv/bin/python jobs/...` and `.venv/bin/spark-submit jobs/...`:
#   - fetches the Delta jars with Spark's own Maven resolver (ivy);
#   - writes SPARK_HOME/conf/spark-defaults.conf (jars, Delta catalog, venv python);
#   - links .venv/bin/spark-distribution so spark-submit finds SPARK_HOME
#     without the venv being activated.
# Idempotent: does nothing when the jars and the conf are already in place.
set -euo pipefail

venv=${1:-.venv}
venv=$(cd "$venv" && pwd)
python="$venv/bin/python"
spark_home=$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
jar_dir="$venv/delta-jars"
conf="$spark_home/conf/spark-defaults.conf"

# delta-spark 4.4.1 is the pinned Python package. Maven Central served only 4.4.0 of the
# Scala 2.13 / Spark 4.2 jars on 2026-11-23; 4.4.0 is tried only when 4.4.1 is not served.
versions=${DELTA_JAR_VERSIONS:-"4.4.1 4.4.0"}

ln -sfn "$spark_home" "$venv/bin/spark-distribution"

if ls "$jar_dir"/*delta-spark_*.jar >/dev/null 2>&1 && [ -f "$conf" ]; then
  exit 0
fi

mkdir -p "$jar_dir"
noop=$(mktemp --suffix=.py)
trap 'rm -f "$noop"' EXIT
echo 'pass' > "$noop"

resolved=""
for version in $versions; do
  echo "setup: resolving io.delta:delta-spark_4.2_2.13:$version from Maven Central"
  if PYSPARK_PYTHON="$python" "$venv/bin/spark-submit" \
      --packages "io.delta:delta-spark_4.2_2.13:$version" \
      --conf "spark.jars.ivy=$venv/ivy" "$noop" >"$venv/ivy-resolve.log" 2>&1; then
    resolved=$version
    break
  fi
  echo "setup: io.delta:delta-spark_4.2_2.13:$version is not served (see $venv/ivy-resolve.log)"
done
[ -n "$resolved" ] || { echo "setup: no Delta jar version could be resolved" >&2; exit 1; }
[ "$resolved" = "${versions%% *}" ] || echo "setup: WARNING: using Delta jars $resolved, not ${versions%% *}"

# Only the two Delta jars: their other transitive dependencies (kernel, jackson, hadoop,
# parquet) are either in Spark already or unused, and older copies would shadow Spark's.
rm -f "$jar_dir"/*.jar
cp "$venv/ivy/jars/io.delta_delta-spark_4.2_2.13-$resolved.jar" \
   "$venv/ivy/jars/io.delta_delta-storage-$resolved.jar" "$jar_dir/"

mkdir -p "$(dirname "$conf")"
cat > "$conf" <<CONF
# Written by rfm_spark's scripts/setup_spark.sh: a Delta-enabled local Spark.
spark.jars                       $(ls "$jar_dir"/*.jar | paste -sd, -)
spark.sql.extensions             io.delta.sql.DeltaSparkSessionExtension
spark.sql.catalog.spark_catalog  org.apache.spark.sql.delta.catalog.DeltaCatalog
spark.pyspark.python             $python
spark.pyspark.driver.python      $python
CONF
echo "setup: Delta jars $resolved ready in $jar_dir"
