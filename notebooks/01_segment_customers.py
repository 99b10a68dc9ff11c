# Databricks notebook source
# MAGIC %md
# MAGIC # Segment customers (RFM)
# MAGIC Runs the rfm_spark segmentation on a transactions table and shows the segments.
# MAGIC Set the widgets, then *Run all*. The run is written to the Delta tables
# MAGIC `rfm_customers`, `rfm_segments`, `rfm_thresholds`, `rfm_rejects`, `rfm_quality`,
# MAGIC `rfm_runs` and `rfm_migrations` (README, "Output tables"); with a database, read
# MAGIC them through the views `v_rfm_customers`, ... which show only succeeded runs.
# MAGIC
# MAGIC Outside Databricks the same file runs as a script in local mode; the widgets are
# MAGIC then read from environment variables `RFM_CONFIG`, `RFM_INPUT`, `RFM_AS_OF`,
# MAGIC `RFM_LAKEHOUSE` and `RFM_DATABASE`, and the charts are written as HTML files to
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
    "config": os.path.join(repo_root, "conf", "default.yaml"),
    "input": os.path.join(repo_root, "data", "sample", "transactions"),
    "as_of": "",
    "lakehouse": os.path.join(repo_root, "data", "lakehouse"),
    "database": "",
}

from rfm_spark.notebook import figure_display, frame_display, widget_values

params = widget_values(WIDGETS, globals())
show = frame_display(globals())
show_figure = figure_display(globals())
params

# COMMAND ----------

from rfm_spark import load_config, run_segmentation
from rfm_spark.report import segment_report
from rfm_spark.session import get_spark

settings = {"input.path": params["input"], "metrics.as_of": params["as_of"] or None}
settings.update({"output.database": params["database"]} if params["database"]
                else {"output.lakehouse": params["lakehouse"]})
config = load_config([path.strip() for path in params["config"].split(",")], settings=settings)
spark = get_spark()
result = run_segmentation(spark, config)

# COMMAND ----------

# MAGIC %md ## Segments

# COMMAND ----------

print(f"run {result.run_id}, as of {result.as_of}: {result.valid_rows:,} of "
      f"{result.input_rows:,} rows used; dropped {result.dropped_by_reason or 'none'}")
print(segment_report(result.segments))
show(result.segments.orderBy("segment_code"))

# COMMAND ----------

# MAGIC %md ## The charts of the run's report: segments, metrics with their cut points, R x F

# COMMAND ----------

from rfm_spark.html_report import section_figures

# One call for all of them: plotly.js (4.8 MB) is inlined once per call.
charts = section_figures(spark, result.written_to, result.run_id, ["segments", "metrics", "grid"])
show_figure([figure for _, figure in charts], f"{result.run_id}_charts")

# COMMAND ----------

# MAGIC %md ## Grade cut points

# COMMAND ----------

show(result.thresholds.orderBy("metric", "grade"))

# COMMAND ----------

# MAGIC %md ## A sample of customers

# COMMAND ----------

show(result.customers.limit(20))
