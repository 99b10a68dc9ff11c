"""What a churn model says, for a terminal or a notebook: its metrics beside the
baselines, its strongest features, and the churn x value grid (small aggregates)."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

SHOWN_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "top_decile_lift",
                 "mean_predicted", "observed_rate")


def grid_cells(scores: DataFrame) -> DataFrame:
    """Customers, value and mean churn probability per grid cell (at most bands^2 rows)."""
    return (scores.groupBy("churn_band", "value_band", "churn_segment", "action")
            .agg(F.count(F.lit(1)).alias("customers"), F.sum("value").alias("value"),
                 F.avg("churn_probability").alias("mean_churn_probability"))
            .orderBy(F.desc("mean_churn_probability"), F.desc("value")))


def metrics_report(record: dict) -> str:
    """One line per model and baseline, on the validation date."""
    width = max(len(name) for name in record["metrics"])
    lines = [f"{'':<{width}}  " + "  ".join(f"{m:>15}" for m in SHOWN_METRICS)]
    for name, found in record["metrics"].items():
        lines.append(f"{name:<{width}}  " + "  ".join(f"{found.get(m, float('nan')):>15.4f}"
                                                      for m in SHOWN_METRICS))
    return "\n".join(lines)


def importances_report(record: dict, model: str, top: int = 10) -> str:
    found = record["feature_importances"][model]
    ranked = sorted(found.items(), key=lambda item: -abs(item[1]))[:top]
    width = max(len(name) for name, _ in ranked)
    return "\n".join(f"{name:<{width}}  {weight:>9.4f}" for name, weight in ranked)


def grid_report(cells: list) -> str:
    """`grid_cells` rows as a text table."""
    lines = [f"{'segment':<24} {'churn':<8} {'value':<8} {'customers':>10} {'value':>14} "
             f"{'churn p':>8}  action"]
    for cell in cells:
        lines.append(f"{cell.churn_segment:<24} {cell.churn_band:<8} {cell.value_band:<8} "
                     f"{cell.customers:>10,} {cell.value or 0:>14,.2f} "
                     f"{cell.mean_churn_probability:>8.3f}  {cell.action or ''}")
    return "\n".join(lines)
