# Databricks notebook source
# MAGIC %md
# MAGIC # How customers moved between runs
# MAGIC Pick two succeeded runs (default: the last two of the newest scheme) and see the
# MAGIC transition matrix as a heatmap (customers and row percentages), the drift of the
# MAGIC grade cut points and the fill dynamics of every group across all runs.
# MAGIC
# MAGIC Outside Databricks the same file runs as a script in local mode; the widgets are
# MAGIC then read from environment variables `RFM_LAKEHOUSE`, `RFM_DATABASE`,
# MAGIC `RFM_FROM_RUN`, `RFM_TO_RUN` and `RFM_LEVEL`, and the charts are written as HTML
# MAGIC files to `RFM_REPORT_DIR` (default: the system's temporary folder).

# COMMAND ----------

import os
import sys

# In a Databricks Repo (and locally) the library sits one folder up from this notebook.
repo_root = os.path.abspath(os.path.join(os.getcwd(), "..")) if os.path.basename(
    os.getcwd()) == "notebooks" else os.getcwd()
if repo_root not in sys.path:
    sys.path.insert(0, repo_root)

WIDGETS = {
    "lakehouse": os.path.join(repo_root, "data", "lakehouse"),
    "database": "",
    "from_run": "",
    "to_run": "",
    "level": "group",
}

from rfm_spark.notebook import figure_display, frame_display, widget_lakehouse, widget_values

params = widget_values(WIDGETS, globals())
show = frame_display(globals())
show_figure = figure_display(globals())
params

# COMMAND ----------

import yaml
from pyspark.sql import functions as F

from rfm_spark import figures
from rfm_spark.history import fill_dynamics, threshold_drift
from rfm_spark.html_report.context import metric_unit
from rfm_spark.lakehouse import read_table
from rfm_spark.pipeline import migration_between
from rfm_spark.report import transition_matrix, transition_report
from rfm_spark.session import get_spark

spark = get_spark()
lakehouse = widget_lakehouse(params)
runs = read_table(spark, lakehouse, "rfm_runs")
newest_scheme = runs.orderBy(F.desc("as_of_date"), F.desc("finished_at")).first().scheme_sha256
latest_two = (runs.where(F.col("scheme_sha256") == newest_scheme)
              .orderBy(F.desc("as_of_date"), F.desc("finished_at")).limit(2).collect())
from_run = params["from_run"] or latest_two[-1].run_id
to_run = params["to_run"] or latest_two[0].run_id
show(runs.select("run_id", "as_of_date", "customers", "valid_rows", "scheme_sha256")
     .orderBy("as_of_date"))

# COMMAND ----------

# MAGIC %md ## Transition matrix

# COMMAND ----------

migrations = migration_between(spark, lakehouse, from_run, to_run).cache()
charts = []
for level in dict.fromkeys([params["level"], "segment"]):
    matrix = transition_matrix(migrations, level)
    print(f"{level}: {from_run} (rows) -> {to_run} (columns)")
    print(transition_report(matrix))
    charts.append(figures.migration_heatmap_figure(matrix, from_run, to_run))
charts.append(figures.migration_sankey_figure(transition_matrix(migrations, "group"), from_run,
                                              to_run))
# One call for all of them: plotly.js (4.8 MB) is inlined once per call.
show_figure(charts, f"migration_{from_run}_{to_run}")

# COMMAND ----------

# MAGIC %md ## Drift of the grade cut points

# COMMAND ----------

drift = threshold_drift(read_table(spark, lakehouse, "rfm_thresholds"), runs)
show(drift.where(F.col("scheme_sha256") == newest_scheme).drop("scheme_sha256"))
# The cut points over all customers (scope ''), one line each across the runs.
overall = (threshold_drift(read_table(spark, lakehouse, "rfm_thresholds")
                           .where(F.col("scope") == ""), runs)
           .where((F.col("scheme_sha256") == newest_scheme) & (F.col("grade") == 1))
           .select("metric", "as_of_date", "cut_points").collect())  # a row per run and metric
# Each metric's unit as the report words it, from the config of the scheme's newest run.
newest = (runs.where(F.col("scheme_sha256") == newest_scheme)
          .orderBy(F.desc("as_of_date"), F.desc("finished_at")).first())
config = yaml.safe_load(newest.config) or {}
units = {metric: metric_unit(config, metric) for metric in {row.metric for row in overall}}
if overall:
    show_figure(figures.threshold_drift_figure(overall, units), "threshold_drift")

# COMMAND ----------

# MAGIC %md ## Fill dynamics of each group

# COMMAND ----------

fill = fill_dynamics(read_table(spark, lakehouse, "rfm_segments"), runs, params["level"])
fill = fill.where(F.col("scheme_sha256") == newest_scheme).drop("scheme_sha256")
show(fill)
# Share of customers per value, one column per value: the "fill" of each over time.
show(fill.groupBy("as_of_date").pivot("value").agg(F.round(F.first("share"), 4))
     .orderBy("as_of_date"))
fill_rows = fill.collect()  # one row per run and value
show_figure(figures.fill_dynamics_figure(fill_rows, params["level"]), f"fill_{params['level']}")
