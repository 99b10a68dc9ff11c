"""How a campaign's tables are written so that a reader never sees half a draw.

A draw (an assignment of members to arms) has its own id. Its members are appended
first, tagged with the draw id; then one commit replaces the campaign's rfm_campaigns
row with the new draw id: from that commit on, readers see the new members (and only
results measured on them), never a mix. Last, the rows of the draws listed before the
append are deleted; a draw made meanwhile by another job is not on that list, and a
draw left by a killed job is deleted by the next one. Results of one window are
replaced in one commit.
"""
from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import names
from rfm_spark.errors import RunConflictError
from rfm_spark.lakehouse.protocol import refresh_views
from rfm_spark.lakehouse.readers import stored
from rfm_spark.lakehouse.storage import Lakehouse
from rfm_spark.tables import CAMPAIGN_MEMBERS, CAMPAIGN_RESULTS, CAMPAIGNS

log = logging.getLogger(__name__)
DRAWN_TABLES = (CAMPAIGN_MEMBERS.name, CAMPAIGN_RESULTS.name)


def _of_campaign(campaign_id: str) -> str:
    return f"campaign_id = {names.sql_string(campaign_id)}"


def stored_campaign(spark: SparkSession, lakehouse: Lakehouse, campaign_id: str):
    """The campaign's rfm_campaigns row, or None."""
    return (stored(spark, lakehouse, CAMPAIGNS.name)
            .where(F.col("campaign_id") == campaign_id).first())  # one row


def write_draw(spark: SparkSession, lakehouse: Lakehouse, record: dict, members: DataFrame
               ) -> None:
    """Appends a draw's members, then makes it the campaign's draw (`record`: the
    rfm_campaigns row without the arm counts, which are counted from the stored rows)."""
    campaign_id, draw_id = record["campaign_id"], record["draw_id"]
    for table in (CAMPAIGNS, CAMPAIGN_MEMBERS, CAMPAIGN_RESULTS):
        lakehouse.ensure(spark, table, table.layout())
    earlier = _draws(spark, lakehouse, campaign_id)
    lakehouse.append(members, CAMPAIGN_MEMBERS.name, CAMPAIGN_MEMBERS.layout())
    arms = {row.arm: row.members for row in (
        stored(spark, lakehouse, CAMPAIGN_MEMBERS.name)
        .where(_draw_rows(campaign_id, draw_id)).groupBy("arm")
        .agg(F.count(F.lit(1)).alias("members")).collect())}  # two rows
    record = {**record, "members": sum(arms.values()), "test_members": arms.get("test", 0),
              "control_members": arms.get("control", 0)}
    row = spark.createDataFrame([tuple(record[name] for name, _ in CAMPAIGNS.layout())],
                                CAMPAIGNS.ddl(CAMPAIGNS.layout()))
    lakehouse.replace(row, CAMPAIGNS.name, _of_campaign(campaign_id))
    current = stored_campaign(spark, lakehouse, campaign_id)
    if current is None or current.draw_id != draw_id:
        raise RunConflictError(f"campaign {campaign_id!r} was drawn again by another job "
                               "meanwhile; its draw is the one visible")
    for table in DRAWN_TABLES:
        old = earlier - {draw_id}
        if old:
            listed = ", ".join(names.sql_string(d) for d in sorted(old))
            lakehouse.delete(spark, table, f"{_of_campaign(campaign_id)} AND draw_id IN ({listed})")
    _views(spark, lakehouse)


def replace_results(spark: SparkSession, lakehouse: Lakehouse, results: DataFrame,
                    campaign_id: str, window_days: int) -> None:
    """The campaign's results for one window, replaced in one commit."""
    lakehouse.ensure(spark, CAMPAIGN_RESULTS, CAMPAIGN_RESULTS.layout())
    lakehouse.replace(results, CAMPAIGN_RESULTS.name,
                      f"{_of_campaign(campaign_id)} AND window_days = {int(window_days)}")
    _views(spark, lakehouse)


def _draws(spark: SparkSession, lakehouse: Lakehouse, campaign_id: str) -> set[str]:
    """The draw ids with stored rows of the campaign (a few)."""
    found: set[str] = set()
    for table in DRAWN_TABLES:
        rows = (stored(spark, lakehouse, table).where(F.col("campaign_id") == campaign_id)
                .select("draw_id").distinct().collect())
        found |= {row.draw_id for row in rows}
    return found


def _draw_rows(campaign_id: str, draw_id: str):
    return (F.col("campaign_id") == campaign_id) & (F.col("draw_id") == draw_id)


def _views(spark: SparkSession, lakehouse: Lakehouse) -> None:
    if lakehouse.database:
        refresh_views(spark, lakehouse, [CAMPAIGNS.name, *DRAWN_TABLES])
