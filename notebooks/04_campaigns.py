# Databricks notebook source
# MAGIC %md
# MAGIC # Campaigns: test and control in every segment, and the cells worth sending to
# MAGIC Choose a succeeded run and the segments to reach; the campaign's members are split
# MAGIC into a test arm (gets the message) and a control arm (does not) in the same share in
# MAGIC every cell. Once the transactions after the start date are in, measure: response,
# MAGIC lift with its 95% interval and the decision per cell, and the send list.
# MAGIC
# MAGIC Outside Databricks the same file runs as a script in local mode; the widgets are
# MAGIC then read from environment variables `RFM_LAKEHOUSE`, `RFM_DATABASE`,
# MAGIC `RFM_RUN_ID`, `RFM_CAMPAIGN_ID`, `RFM_SEGMENTS`, `RFM_CONTROL_SHARE`, `RFM_SEED`,
# MAGIC `RFM_CONFIG`, `RFM_INPUT`, `RFM_INPUT_FORMAT` and `RFM_WINDOW_DAYS`, and the charts
# MAGIC are written as HTML to `RFM_REPORT_DIR` (default: the system's temporary folder).

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
    "campaign_id": "notebook-campaign",
    "segments": "",           # comma-separated segment names; empty: every customer
    "control_share": "0.5",
    "seed": "0",
    "config": "preset:default",
    "input": "",              # transactions after the start date; empty: assign only
    "input_format": "csv",
    "window_days": "30",
}

from rfm_spark.notebook import figure_display, frame_display, widget_lakehouse, widget_values

params = widget_values(WIDGETS, globals())
show = frame_display(globals())
show_figure = figure_display(globals())
params

# COMMAND ----------

from pyspark.sql import functions as F

from rfm_spark import figures
from rfm_spark.campaigns import CampaignSpec, Selection, assign_campaign, measure_campaign
from rfm_spark.campaigns.summary import campaign_report, ordered_results
from rfm_spark.lakehouse import read_table
from rfm_spark.session import get_spark

spark = get_spark()
lakehouse = widget_lakehouse(params)
runs = read_table(spark, lakehouse, "rfm_runs")
latest = runs.orderBy(F.desc("as_of_date"), F.desc("finished_at")).first()
run_id = params["run_id"] or latest.run_id
segments = tuple(name.strip() for name in params["segments"].split(",") if name.strip())
spec = CampaignSpec(params["campaign_id"], run_id, Selection(segments=segments),
                    float(params["control_share"]), int(params["seed"]))
campaign = assign_campaign(spark, lakehouse, spec)
print(campaign.record)
show(campaign.members.groupBy("segment_code", "segment").pivot("arm", ["test", "control"])
     .count().orderBy("segment_code"))

# COMMAND ----------

# MAGIC %md ## Response and lift per cell (once the transactions after the start are in)

# COMMAND ----------

results = None
if params["input"]:
    from rfm_spark import load_config
    config = load_config([params["config"]], settings={"input.format": params["input_format"]})
    results = measure_campaign(spark, lakehouse, spec.campaign_id, config, params["input"],
                               window_days=int(params["window_days"]))
    ordered = ordered_results(results)
    print(campaign_report(ordered))
    cells = [r for r in ordered if r.level == "segment_code"]
    names = {r.segment_code: r.segment for r in campaign.members.select(
        "segment_code", "segment").distinct().collect()}  # one row per cell
    title = f"{spec.campaign_id}, {params['window_days']}-day window"
    show_figure([figures.campaign_response_figure(cells, names, title),  # plotly.js once
                 figures.campaign_lift_figure(cells, names, title)],
                f"campaign_{spec.campaign_id}")

# COMMAND ----------

# MAGIC %md ## The send list: the test arm of the cells worth sending to (control stays held out)

# COMMAND ----------

if results is not None:
    send_cells = results.where((F.col("level") == "segment_code") & (F.col("decision") == "send"))
    send_list = (campaign.members.where(F.col("arm") == "test")
                 .join(send_cells.select(F.col("value").alias("segment_code")), "segment_code",
                       "left_semi")
                 .select("customer_id", "segment", "segment_action"))
    print(f"send list: {send_list.count():,} customers in "
          f"{send_cells.count()} cells worth sending to")
    show(send_list.orderBy("segment", "customer_id").limit(20))
