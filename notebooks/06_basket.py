# Databricks notebook source
# MAGIC %md
# MAGIC # Cross-sell rules and the upgrade simulation of a run
# MAGIC What `rfm-basket` and `rfm-simulate` wrote for a succeeded run: the strongest rules
# MAGIC per segment (`rfm_basket_rules`) beside their lift over all baskets, the holdout's
# MAGIC hit rates (`rfm_basket_evaluation`), and the expected uplift per step up the
# MAGIC monetary tiers and scenario (`rfm_upgrade_simulation`), drawn as the run's report
# MAGIC draws them (section 9).
# MAGIC
# MAGIC Outside Databricks the same file runs as a script in local mode; the widgets are
# MAGIC then read from environment variables `RFM_LAKEHOUSE`, `RFM_DATABASE` and `RFM_RUN_ID`
# MAGIC (default: the latest succeeded run), and the charts are written as HTML to
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
    "run_id": "",             # default: the latest succeeded run
}

from rfm_spark.notebook import figure_display, frame_display, widget_lakehouse, widget_values

params = widget_values(WIDGETS, globals())
show = frame_display(globals())
show_figure = figure_display(globals())
params

# COMMAND ----------

from pyspark.sql import functions as F

from rfm_spark.html_report import section_figures
from rfm_spark.lakehouse import read_table, succeeded_runs
from rfm_spark.session import get_spark

spark = get_spark()
lakehouse = widget_lakehouse(params)
runs = succeeded_runs(spark, lakehouse)
run_id = params["run_id"] or max(runs.values(), key=lambda r: (r.as_of_date, r.finished_at)).run_id
of_run = F.col("run_id") == run_id
print(f"run {run_id}")

# COMMAND ----------

# MAGIC %md ## Cross-sell rules and the upgrade simulation, as the report draws them

# COMMAND ----------

# One call for all of them: plotly.js (4.8 MB) is inlined once per call.
charts = section_figures(spark, lakehouse, run_id, ["basket", "upgrade"])
if charts:
    show_figure([figure for _, figure in charts], f"basket_{run_id}")
else:
    print(f"run {run_id} has no basket rules and no upgrade simulation: run rfm-basket or "
          "rfm-simulate on it first")

# COMMAND ----------

# MAGIC %md ## The rules with the highest lift, per level value

# COMMAND ----------

show(read_table(spark, lakehouse, "rfm_basket_rules").where(of_run)
     .orderBy("level", "value", F.desc("lift"), F.desc("confidence"))
     .select("level", "value", "antecedent", "consequent", "baskets", "support", "confidence",
             "lift", "population_lift", "p_value_adjusted").limit(40))

# COMMAND ----------

# MAGIC %md ## The holdout: rules mined up to the cutoff, checked on the days after it

# COMMAND ----------

show(read_table(spark, lakehouse, "rfm_basket_evaluation").where(of_run)
     .orderBy("level", "holdout_days", F.desc("customers")))

# COMMAND ----------

# MAGIC %md ## The upgrade simulation: per scenario and step up the monetary tiers

# COMMAND ----------

show(read_table(spark, lakehouse, "rfm_upgrade_simulation").where(of_run)
     .orderBy("scenario", "from_grade"))
