"""Campaigns, step by step: `assign_campaign` (members of a run's cells split into test
and control, written to Delta), `measure_campaign` (response and lift per cell from
later transactions) and `campaign_migration` (how each arm moved between runs)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import uuid

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import lakehouse as lh, names
from rfm_spark.campaigns.assign import TEST, Selection, campaign_members, draw_arms
from rfm_spark.campaigns.measure import Decision, cell_counts, responses, result_rows
from rfm_spark.config import Config
from rfm_spark.errors import ConfigError, InputError
from rfm_spark.lakehouse.campaigns import replace_results, stored_campaign, write_draw
from rfm_spark.logs import stage
from rfm_spark.migration import transitions
from rfm_spark.pipeline import reading
from rfm_spark.tables import CAMPAIGN_MEMBERS, CAMPAIGN_RESULTS

log = logging.getLogger(__name__)
_COMPARED = ("run_id", "start_date", "control_share", "seed", "selection")


@dataclasses.dataclass(frozen=True)
class CampaignSpec:
    """What `assign` is asked: which run's customers, which cells, which split."""
    campaign_id: str
    run_id: str
    selection: Selection = Selection()
    control_share: float = 0.5
    seed: int = 0
    start_date: dt.date | None = None   # default: the day after the run's as-of date

    def check(self) -> None:
        names.check_run_id(self.campaign_id)
        names.check_run_id(self.run_id)
        if not (isinstance(self.control_share, float | int) and 0 < self.control_share < 1):
            raise ConfigError(f"control share {self.control_share!r}: give a number "
                              "strictly between 0 and 1")


@dataclasses.dataclass(frozen=True)
class Campaign:
    record: dict          # the rfm_campaigns row
    members: DataFrame    # its visible rfm_campaign_members rows
    drawn: bool           # False: the same arguments again, nothing was drawn


def assign_campaign(spark: SparkSession, lakehouse: lh.Lakehouse, spec: CampaignSpec,
                    force: bool = False) -> Campaign:
    """Draws the campaign's arms from run `spec.run_id` and writes them. The same
    arguments again change nothing; other arguments for a stored campaign id need
    `force` (a new draw replaces the old one and its results)."""
    spec.check()
    run = lh.succeeded_run(spark, lakehouse, spec.run_id)
    cells = _cells(spark, lakehouse, run)
    codes = spec.selection.resolve(cells)
    wanted = {"run_id": run.run_id, "start_date": spec.start_date or run.as_of_date
              + dt.timedelta(days=1), "control_share": float(spec.control_share),
              "seed": spec.seed, "selection": spec.selection.describe()}
    if not sum(cell.customers for cell in cells if cell.segment_code in codes):
        raise ConfigError(f"selection {wanted['selection']!r} holds no customer of run "
                          f"{run.run_id}")
    existing = stored_campaign(spark, lakehouse, spec.campaign_id)
    if existing is not None and not _redraw(existing, wanted, force):
        return Campaign(existing.asDict(), read_members(spark, lakehouse, spec.campaign_id),
                        drawn=False)
    record = {"campaign_id": spec.campaign_id, "draw_id": uuid.uuid4().hex,
              "as_of_date": run.as_of_date, "created_at": lh.utc_now(), **wanted}
    with stage(f"assign campaign {spec.campaign_id}") as counts:
        members = _drawn_members(spark, lakehouse, run, codes, record)
        write_draw(spark, lakehouse, record, members)
        written = stored_campaign(spark, lakehouse, spec.campaign_id)
        counts.update(members=written.members, test=written.test_members,
                      control=written.control_members)
    return Campaign(written.asDict(), read_members(spark, lakehouse, spec.campaign_id), True)


def read_members(spark: SparkSession, lakehouse: lh.Lakehouse, campaign_id: str) -> DataFrame:
    return lh.read_table(spark, lakehouse, CAMPAIGN_MEMBERS.name).where(
        F.col("campaign_id") == campaign_id)


def export_test_arm(campaign: Campaign, path: str) -> str:
    """Writes the test arm (customer id, segment, action) as one CSV file for the
    sending tool; the control arm is never exported. Returns the file written."""
    from rfm_spark.export import single_csv
    test_arm = (campaign.members.where(F.col("arm") == TEST)
                .select("customer_id", "segment", "segment_action")
                .orderBy("customer_id"))
    return single_csv(test_arm, path)


def measure_campaign(spark: SparkSession, lakehouse: lh.Lakehouse, campaign_id: str,
                     config: Config, source: str | DataFrame | None = None, *,
                     window_days: int = 30, decide: Decision = Decision()) -> DataFrame:
    """rfm_campaign_results of one window: each member responded when they have a used
    purchase in [start_date, start_date + window_days) of the transactions (read and
    cleaned by `config` as a run would). Replaces that window's rows; returns them."""
    names.check_run_id(campaign_id)
    _check_window(window_days, decide)
    campaign = stored_campaign(spark, lakehouse, campaign_id)
    if campaign is None:
        raise ConfigError(f"{lakehouse.location('rfm_campaigns')}: no campaign {campaign_id!r}")
    members = read_members(spark, lakehouse, campaign_id)
    window_end = campaign.start_date + dt.timedelta(days=window_days - 1)
    with reading(spark, config, source) as read:
        last_date = read.last_used_date
        if last_date is None or last_date < campaign.start_date:
            raise InputError(f"the input has no used purchase on or after the campaign's "
                             f"start date {campaign.start_date} (its last is {last_date})")
        with stage(f"measure campaign {campaign_id}, {window_days} days") as counts:
            window = responses(read.flagged, campaign.start_date, window_days)
            counted = cell_counts(members, window).collect()  # one row per cell and arm
            counts.update(cells=len(counted), responders=sum(r.responders for r in counted))
    complete = last_date >= window_end
    if not complete:
        log.warning("campaign %s: the %d-day window ends %s, after the last purchase in the "
                    "input (%s): measured through %s, window_complete = false", campaign_id,
                    window_days, window_end, last_date, last_date)
    rows = result_rows(counted, campaign.control_share, decide)
    frame = _results_frame(spark, campaign, rows, window_days, min(window_end, last_date),
                           complete, decide)
    replace_results(spark, lakehouse, frame, campaign_id, window_days)
    return lh.read_table(spark, lakehouse, CAMPAIGN_RESULTS.name).where(
        (F.col("campaign_id") == campaign_id) & (F.col("window_days") == window_days))


def campaign_migration(spark: SparkSession, lakehouse: lh.Lakehouse, campaign_id: str,
                       to_run_id: str) -> DataFrame:
    """rfm_migrations-shaped rows, per arm, from the campaign's run to a later run, for
    the campaign's members only (a member missing from the later run is `gone`)."""
    names.check_run_id(campaign_id)
    campaign = stored_campaign(spark, lakehouse, campaign_id)
    if campaign is None:
        raise ConfigError(f"{lakehouse.location('rfm_campaigns')}: no campaign {campaign_id!r}")
    from_run = lh.succeeded_run(spark, lakehouse, campaign.run_id)
    to_run = lh.succeeded_run(spark, lakehouse, names.check_run_id(to_run_id))
    if to_run.as_of_date <= from_run.as_of_date:
        raise ConfigError(f"run {to_run_id} (as of {to_run.as_of_date}) is not later than the "
                          f"campaign's run {from_run.run_id} (as of {from_run.as_of_date})")
    members = read_members(spark, lakehouse, campaign_id).select("customer_id", "arm")
    by_arm = []
    for arm in ("test", "control"):
        in_arm = members.where(F.col("arm") == arm).select("customer_id")
        sides = [lh.run_rows(spark, lakehouse, "rfm_customers", run).join(
            in_arm, "customer_id", "left_semi") for run in (from_run, to_run)]
        by_arm.append(transitions(*sides, (from_run.run_id, from_run.as_of_date),
                                  (to_run.run_id, to_run.as_of_date))
                      .select(F.lit(arm).alias("arm"), "*"))
    return by_arm[0].unionByName(by_arm[1])


def _cells(spark: SparkSession, lakehouse: lh.Lakehouse, run: lh.RunInfo) -> list:
    """The run's rfm_segments rows: one per possible code (a few hundred at most)."""
    segments = lh.run_rows(spark, lakehouse, "rfm_segments", run)
    lh.refuse_partitioned(segments, run, "a customer holds a code per partition, and "
                                         "campaigns split customers by code")
    return segments.select("segment_code", "segment", "group", "segment_action",
                           "customers").collect()


def _redraw(existing, wanted: dict, force: bool) -> bool:
    """Whether to draw again for a stored campaign: never for the same arguments."""
    differing = [key for key in _COMPARED if getattr(existing, key) != wanted[key]]
    if not differing:
        log.info("campaign %s is already assigned with these arguments (draw %s): "
                 "nothing to do", existing.campaign_id, existing.draw_id)
        return False
    if not force:
        described = "; ".join(f"{key} {getattr(existing, key)!s} stored, {wanted[key]!s} given"
                              for key in differing)
        raise ConfigError(f"campaign {existing.campaign_id!r} exists with other arguments "
                          f"({described}): re-drawing it needs --force")
    log.warning("campaign %s: drawing again (--force): %s", existing.campaign_id,
                ", ".join(differing))
    return True


def _drawn_members(spark: SparkSession, lakehouse: lh.Lakehouse, run: lh.RunInfo,
                   codes: list[str], record: dict) -> DataFrame:
    customers = lh.run_rows(spark, lakehouse, "rfm_customers", run).select(
        "customer_id", "run_id", "segment_code", "segment", "group")
    actions = lh.run_rows(spark, lakehouse, "rfm_segments", run).select(
        "segment_code", "segment_action")
    return (campaign_members(customers, codes, actions)
            .transform(draw_arms, record["campaign_id"], record["seed"],
                       record["control_share"])
            .select(F.lit(record["campaign_id"]).alias("campaign_id"),
                    F.lit(record["draw_id"]).alias("draw_id"), "customer_id", "run_id",
                    "segment_code", "segment", "group", "arm", "segment_action"))


def _check_window(window_days: int, decide: Decision) -> None:
    if not isinstance(window_days, int) or window_days < 1:
        raise ConfigError(f"window of {window_days!r} days: give a whole number of days >= 1")
    if (decide.cost_per_contact is None) != (decide.margin_per_response is None):
        raise ConfigError("give both --cost-per-contact and --margin-per-response, or neither")
    for name, value in (("min response", decide.min_response),
                        ("cost per contact", decide.cost_per_contact),
                        ("margin per response", decide.margin_per_response)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} {value!r}: give a number >= 0")


def _results_frame(spark: SparkSession, campaign, rows: list[dict], window_days: int,
                   measured_through: dt.date, complete: bool, decide: Decision) -> DataFrame:
    common = {"campaign_id": campaign.campaign_id, "draw_id": campaign.draw_id,
              "window_days": window_days, "start_date": campaign.start_date,
              "measured_through": measured_through, "window_complete": complete,
              "measured_at": lh.utc_now(), "min_response": decide.min_response,
              "cost_per_contact": decide.cost_per_contact,
              "margin_per_response": decide.margin_per_response}
    layout = CAMPAIGN_RESULTS.layout()
    return spark.createDataFrame([tuple({**common, **row}[name] for name, _ in layout)
                                  for row in rows], CAMPAIGN_RESULTS.ddl(layout))
