# Databricks notebook source
# MAGIC %md
# MAGIC # Churn risk and customer value
# MAGIC Trains the churn model on a succeeded run's history (or reads the latest one trained
# MAGIC for it), compares it with the BG/NBD and RFM-segment baselines on the validation
# MAGIC date, shows its ROC and calibration curves and what drives it, and the churn x value
# MAGIC grid with the chosen cell's top customers (source 004).
# MAGIC
# MAGIC Outside Databricks the same file runs as a script in local mode; the widgets are
# MAGIC then read from environment variables `RFM_LAKEHOUSE`, `RFM_DATABASE`, `RFM_RUN_ID`,
# MAGIC `RFM_CONFIG`, `RFM_INPUT`, `RFM_INPUT_FORMAT`, `RFM_TRAIN` and `RFM_CELL`, and the
# MAGIC charts are written as HTML to `RFM_REPORT_DIR` (default: the system's temporary folder).

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
    "run_id": "",             # default: the latest succeeded run
    "config": "preset:default",
    "input": "",              # the run's transactions; needed to train
    "input_format": "csv",
    "train": "true",          # false: show the latest model trained for the run
    "cell": "Valuable, at risk",
}

from rfm_spark.notebook import figure_display, frame_display, widget_lakehouse, widget_values

params = widget_values(WIDGETS, globals())
show = frame_display(globals())
show_figure = figure_display(globals())
params

# COMMAND ----------

from pyspark.sql import functions as F

from rfm_spark.lakehouse import read_table
from rfm_spark.session import get_spark

spark = get_spark()
lakehouse = widget_lakehouse(params)
runs = read_table(spark, lakehouse, "rfm_runs")
latest = runs.orderBy(F.desc("as_of_date"), F.desc("finished_at")).first()
run_id = params["run_id"] or latest.run_id

if params["train"].lower() == "true":
    from rfm_spark import load_config
    from rfm_spark.churn import train_churn
    settings = {"input.format": params["input_format"]}
    config = load_config([params["config"]], settings=settings)
    record = train_churn(spark, lakehouse, run_id, config, params["input"] or None).record
else:
    record = (read_table(spark, lakehouse, "rfm_churn_models").where(F.col("run_id") == run_id)
              .orderBy(F.desc("trained_at")).first().asDict(recursive=True))
print(f"model {record['model_id']} ({record['model']}) for run {run_id}, as of "
      f"{record['as_of_date']}, validated on {record['observation_dates'][-1]}")

# COMMAND ----------

# MAGIC %md ## The model against the baselines on the validation date

# COMMAND ----------

from rfm_spark import figures
from rfm_spark.churn import summary

print(summary.metrics_report(record))
show_figure([figures.roc_figure(record), figures.calibration_figure(record)],  # plotly.js once
            "churn_curves")

# COMMAND ----------

# MAGIC %md ## What drives churn

# COMMAND ----------

show_figure(figures.importances_figure(record, record["model"]), "churn_importances")

# COMMAND ----------

# MAGIC %md ## Churn risk x value: customers and money per cell

# COMMAND ----------

scores = read_table(spark, lakehouse, "rfm_churn_scores").where(
    F.col("model_id") == record["model_id"])
cells = summary.grid_cells(scores).collect()  # one row per cell
print(summary.grid_report(cells))
show_figure(figures.churn_grid_figure(cells), "churn_grid")

# COMMAND ----------

# MAGIC %md ## The chosen cell's most valuable customers

# COMMAND ----------

top = (scores.where(F.col("churn_segment") == params["cell"])
       .orderBy(F.desc("value"), "customer_id")
       .select("customer_id", "churn_probability", "value", "clv", "p_alive", "action"))
print(f"{params['cell']}: {top.count():,} customers")
show(top.limit(20))
