# Databricks notebook source
# MAGIC %md
# MAGIC # Data quality of a run
# MAGIC What a run read and what it did with it (source 001's overview tab): rows and amount
# MAGIC per reason, the share of unidentified transactions and amount per store, the share
# MAGIC of customers buying in more than one store, the date range, and the warnings where a
# MAGIC share passed its limit (`quality:` in the config). Then the quarantined rows
# MAGIC (`rfm_rejects`), a few per reason, as they were read.
# MAGIC
# MAGIC Outside Databricks the same file runs as a script in local mode; the widgets are
# MAGIC then read from environment variables `RFM_LAKEHOUSE`, `RFM_DATABASE` and `RFM_RUN_ID`
# MAGIC (default: the latest succeeded run), and the charts are written as HTML files to
# MAGIC `RFM_REPORT_DIR` (default: the system's temporary folder).

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
    "run_id": "",
    "examples_per_reason": "5",
}

from rfm_spark.notebook import figure_display, frame_display, widget_lakehouse, widget_values

params = widget_values(WIDGETS, globals())
show = frame_display(globals())
show_figure = figure_display(globals())
params

# COMMAND ----------

from pyspark.sql import Window as W
from pyspark.sql import functions as F

from rfm_spark import figures
from rfm_spark.lakehouse import read_table
from rfm_spark.quality import stored_report, warnings
from rfm_spark.report import quality_report
from rfm_spark.session import get_spark

spark = get_spark()
lakehouse = widget_lakehouse(params)
runs = read_table(spark, lakehouse, "rfm_runs")
run_id = params["run_id"] or runs.orderBy(F.desc("finished_at")).first().run_id
run = runs.where(F.col("run_id") == run_id).first()
show(runs.where(F.col("run_id") == run_id)
     .select("run_id", "as_of_date", "input_path", "input_rows", "valid_rows",
             "dropped_by_reason", "customers"))

# COMMAND ----------

# MAGIC %md ## Summary and warnings

# COMMAND ----------

quality = read_table(spark, lakehouse, "rfm_quality").where(F.col("run_id") == run_id)
report = stored_report(quality)
print(quality_report(report))
for warning in warnings(report):
    print(f"WARNING {warning}")
# One call for both charts: plotly.js (4.8 MB) is inlined once per call.
show_figure([figures.rows_figure(run.input_rows, run.valid_rows, run.dropped_by_reason or {}),
             figures.reject_reasons_figure(report)], f"quality_rejects_{run_id}")

# COMMAND ----------

# MAGIC %md ## Unidentified transactions and amount per store

# COMMAND ----------

per_store = (quality.where(F.col("check").isin("unidentified_rows", "unidentified_amount"))
             .groupBy("scope").pivot("check", ["unidentified_rows", "unidentified_amount"])
             .agg(F.first("share"))
             .orderBy(F.desc("unidentified_rows")))
show(per_store)
show_figure(figures.unidentified_figure(report), f"quality_unidentified_{run_id}")

# COMMAND ----------

# MAGIC %md ## Quarantined rows, a few per reason

# COMMAND ----------

rejects = read_table(spark, lakehouse, "rfm_rejects").where(F.col("run_id") == run_id)
first_rows = W.partitionBy("reason").orderBy("source_file", "raw")
examples = (rejects.withColumn("example", F.row_number().over(first_rows))
            .where(F.col("example") <= int(params["examples_per_reason"]))
            .select("reason", "source_file", "raw", "customer_id", "purchase_date", "amount")
            .orderBy("reason", "source_file", "raw"))
show(examples)
