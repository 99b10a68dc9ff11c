"""The table contract: every output table's columns, types and partitioning, declared
once. Writes select exactly these columns in this order (`conform`), tables are created
from them, and an existing table only gains the columns a preset may add: the
`grading.partition_by` columns (`when="partition"`) and group attributes (after
`group`). The README's output-table section is rendered from here (`markdown`).

Pure declarations: no Spark session is needed to read them.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

PARTITION_ROLES = ("store", "country", "channel")  # grading.partition_by's choices
ATTEMPT = "attempt_id"


@dataclasses.dataclass(frozen=True)
class Col:
    name: str
    type: str                    # Spark SQL type
    doc: str
    when: str | None = None      # "partition": only when grading.partition_by names it


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Col, ...]
    partition_by: str | None = "run_id"   # None: a small table, not partitioned
    attributes_after: str | None = None   # group attributes are placed after this column
    run_table: bool = True                # rows of one run, tagged with its attempt

    def layout(self, partition_by: Iterable[str] = (),
               attributes: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
        """(name, type) of a run's rows in order: the declared columns, the run's
        partition columns, its group attributes (name -> Spark type)."""
        partition_by = set(partition_by)
        laid: list[tuple[str, str]] = []
        for col in self.columns:
            if col.when == "partition" and col.name not in partition_by:
                continue
            laid.append((col.name, col.type))
            if col.name == self.attributes_after:
                laid += sorted((attributes or {}).items())
        return tuple(laid)

    @property
    def extensible(self) -> frozenset[str]:
        """Declared columns a table may lack (a preset adds them)."""
        return frozenset(col.name for col in self.columns if col.when == "partition")

    def ddl(self, layout: tuple[tuple[str, str], ...]) -> str:
        return ", ".join(f"`{name}` {kind}" for name, kind in layout)


def attribute_type(value: int | str) -> str:
    """One type per attribute kind, in every table: integers are bigint."""
    return "bigint" if isinstance(value, int) else "string"


def _run(*more: Col) -> tuple[Col, ...]:
    return (Col("run_id", "string", "the run"),
            Col("as_of_date", "date", "the run's as-of date"), *more)


_PARTITIONS = tuple(Col(role, "string", f"the {role} graded in (with `grading.partition_by`)",
                        when="partition") for role in PARTITION_ROLES)
_ATTEMPT = Col(ATTEMPT, "string", "the attempt that wrote the row (`read_table` leaves it "
                                  "out; see \"Runs never half-exist\")")
_LEVELS = (Col("segment_code", "string", "the grade digits, R first (`111`, or `4112` with age)"),
           Col("segment_id", "string", "the segment's id, if the rules give one"),
           Col("segment", "string", "the segment's name (the code without named segments)"),
           Col("group_id", "string", "the group's id, if given"),
           Col("group", "string", "the group's name; then its attributes (e.g. `warmth`)"))

CUSTOMERS = Table("rfm_customers", "one row per customer (and partition) of a run", (
    *_run(Col("customer_id", "string", "as given, or its keyed hash when pseudonymised")),
    *_PARTITIONS,
    Col("first_purchase_date", "date", "first used purchase"),
    Col("last_purchase_date", "date", "last used purchase"),
    Col("recency_days", "int", "as-of date minus last purchase date"),
    Col("tenure_days", "int", "as-of date minus first purchase date (the A of RFMA)"),
    Col("frequency", "bigint", "rows, orders or days (`metrics.frequency`)"),
    Col("frequency_rate", "decimal(38,8)", "orders per `rate_interval_days` (NULL unless `rate`)"),
    Col("monetary", "decimal(38,8)", "sum, or mean per order (`metrics.monetary`)"),
    Col("r_grade", "int", "recency grade"), Col("f_grade", "int", "frequency grade"),
    Col("m_grade", "int", "monetary grade"),
    Col("a_grade", "int", "tenure grade (NULL unless `grading.age`)"),
    *_LEVELS,
    Col("tags", "array<string>", "overlapping tags (empty without tags)"),
    Col("score", "decimal(12,6)", "weighted score (NULL without `grading.score`)"),
    _ATTEMPT), attributes_after="group")

SEGMENTS = Table("rfm_segments", "one row per run and possible code (and partition), held "
                                 "or not", (
    *_run(*_PARTITIONS), *_LEVELS,
    Col("tags", "array<string>", "the code's tags"),
    Col("segment_action", "string", "what to send the segment"),
    Col("group_action", "string", "what to send the group"),
    Col("customers", "bigint", "customers holding the code"),
    Col("share", "double", "their share of the run's customers"),
    Col("monetary_total", "decimal(38,8)", "their monetary value"),
    Col("monetary_share", "double", "its share of all customers' monetary value"),
    Col("mean_recency_days", "double", "mean recency"),
    Col("mean_frequency", "double", "mean frequency"),
    Col("mean_monetary", "decimal(38,8)", "mean monetary"),
    _ATTEMPT), attributes_after="group")

THRESHOLDS = Table("rfm_thresholds", "one row per run, metric, scope and grade", _run(
    Col("metric", "string", "recency, frequency, monetary or age"),
          Col("method", "string", "quantile, percentiles, iqr, mean or thresholds"),
          Col("grade", "int", "the grade"),
          Col("min_value", "double", "smallest value its customers hold (NULL when empty)"),
          Col("max_value", "double", "largest value its customers hold"),
          Col("customers", "bigint", "customers in the grade"),
          Col("cut_points", "array<double>", "the metric's bin bounds used, increasing"),
          Col("closed", "string", "`right`: a value equal to a cut is in the lower bin; "
                                  "`left`; or one side per cut"),
          Col("scope", "string", "empty for the whole population, else the partition and "
                                 "outer grades it was cut in (`store=3, r_grade=1`)"),
          _ATTEMPT))

REJECTS = Table("rfm_rejects", "one row per rejected input row", _run(
    Col("reason", "string", "the first reject reason that applies"),
          Col("source_file", "string", "the file it was read from (NULL for a DataFrame)"),
          Col("raw", "string", "a malformed record as read, else the source values as JSON"),
          Col("customer_id", "string", "parsed values, NULL where they did not parse"),
          Col("purchase_date", "date", ""), Col("amount", "decimal(18,8)", ""),
          _ATTEMPT))

QUALITY = Table("rfm_quality", "the data-quality report, a few rows per run", _run(
    Col("check", "string", "rows, customers, unidentified_rows, ..."),
          Col("scope", "string", "read, used, a reason, all, store=<store>, ..."),
          Col("rows", "bigint", "rows (or customers)"),
          Col("amount", "decimal(38,8)", "their amount"),
          Col("share", "double", "share of the scope's rows or amount"),
          Col("limit", "double", "the `quality.*` limit it is checked against"),
          Col("warning", "boolean", "share over the limit"),
          Col("first_date", "date", "earliest purchase date among the rows"),
          Col("last_date", "date", "latest purchase date among the rows"),
          _ATTEMPT))

RUNS = Table("rfm_runs", "one row per run", _run(
    Col("status", "string", "running, succeeded or failed"),
          Col("started_at", "timestamp", "UTC"), Col("finished_at", "timestamp", "UTC"),
          Col("config", "string", "the resolved YAML"),
          Col("config_sha256", "string", "of the config without its `output` section, with "
                                          "the input path as Spark resolves it"),
          Col("input_path", "string", "the input, qualified (`file:/data/tx`)"),
          Col("input_format", "string", "csv, parquet, delta or dataframe"),
          Col("input_rows", "bigint", "records read"),
          Col("valid_rows", "bigint", "records used"),
          Col("dropped_rows", "bigint", "records rejected"),
          Col("dropped_by_reason", "map<string,bigint>", "reason -> records"),
          Col("customers", "bigint", "customers graded"),
          Col("product_version", "string", "rfm_spark's version"),
          Col("spark_version", "string", "the session's Spark"),
          Col("delta_version", "string", "the Delta jars that wrote the run (from the "
                                         "commit's engineInfo)"),
          Col("error", "string", "why it failed"),
          Col("scheme_sha256", "string", "of the metric definitions, grading, segments, "
                                         "groups and tags: equal hashes compare"),
          Col("churn_period_days", "int", "the churn period used, when configured"),
          Col(ATTEMPT, "string", "the attempt that last claimed the run (with `succeeded`, "
                                 "the one whose rows are visible)"),
          Col("input_fingerprint", "string", "`sha256:<hex>` of what was read, then a "
                                             "description (files, bytes, newest; or the "
                                             "Delta version)"),
          Col("config_sources", "array<string>", "what the config was built from, in order: "
                                                 "files and presets as given "
                                                 "(`conf/default.yaml`, `preset:sms27`), "
                                                 "`command line` (--input, --as-of ...) and "
                                                 "`--set KEY` per override; NULL for runs "
                                                 "written before it was recorded")),
             run_table=False)

MIGRATIONS = Table("rfm_migrations", "one row per pair of runs, level and move", (
    Col("from_run_id", "string", "the earlier run"), Col("to_run_id", "string", "the later run"),
    Col("from_as_of_date", "date", ""), Col("to_as_of_date", "date", ""),
    Col("level", "string", "segment_code, segment or group"),
    Col("from_value", "string", "NULL for a customer new in the later run"),
    Col("to_value", "string", "NULL for a customer gone from it"),
    Col("change", "string", "same, moved, new or gone"),
    Col("customers", "bigint", "customers making the move"),
    Col("monetary_from", "decimal(38,8)", "their monetary in the earlier run (0 if absent)"),
    Col("monetary_to", "decimal(38,8)", "their monetary in the later run"),
    Col("from_attempt_id", "string", "the attempts the rows were computed from"),
    Col("to_attempt_id", "string", "(`read_table` leaves them out)")),
    partition_by="to_run_id", run_table=False)

_CAMPAIGN = Col("campaign_id", "string", "the campaign")
_DRAW = Col("draw_id", "string", "the assignment the row belongs to: rows of another draw than "
                                 "rfm_campaigns' are not visible (`read_table` joins them)")

CAMPAIGNS = Table("rfm_campaigns", "one row per campaign, its current draw (docs/campaigns.md)", (
    _CAMPAIGN, _DRAW,
    Col("run_id", "string", "the run whose customers were split"),
    Col("as_of_date", "date", "the run's as-of date"),
    Col("start_date", "date", "the day the campaign goes out: responses count from it"),
    Col("created_at", "timestamp", "UTC, when the draw was made"),
    Col("control_share", "double", "the planned share of each cell in control"),
    Col("seed", "bigint", "the draw's seed"),
    Col("selection", "string", "the selectors (`segment: A, B; code: 1**`), or `all`"),
    Col("members", "bigint", "customers in the campaign"),
    Col("test_members", "bigint", "in the test arm (get the message)"),
    Col("control_members", "bigint", "in the control arm (held out)")),
    partition_by=None, run_table=False)

CAMPAIGN_MEMBERS = Table("rfm_campaign_members", "one row per campaign member", (
    _CAMPAIGN, _DRAW, Col("customer_id", "string", "as in the run's rfm_customers"),
    Col("run_id", "string", "the campaign's run"),
    Col("segment_code", "string", "the member's cell"), Col("segment", "string", ""),
    Col("group", "string", ""),
    Col("arm", "string", "`test` or `control`"),
    Col("segment_action", "string", "what the segment is sent")),
    partition_by="campaign_id", run_table=False)

CAMPAIGN_RESULTS = Table("rfm_campaign_results", "one row per campaign, window, level and "
                                                 "value (formulas: docs/campaigns.md)", (
    _CAMPAIGN, _DRAW,
    Col("window_days", "int", "responses counted in [start_date, start_date + window_days)"),
    Col("start_date", "date", "the campaign's start date"),
    Col("measured_through", "date", "the last day counted"),
    Col("window_complete", "boolean", "false when the input ends before the window"),
    Col("measured_at", "timestamp", "UTC"),
    Col("level", "string", "segment_code, segment, group or total"),
    Col("value", "string", "the code, segment or group (`all` for the total)"),
    Col("test_customers", "bigint", "members of the test arm"),
    Col("control_customers", "bigint", "members of the control arm"),
    Col("test_responders", "bigint", "test members with a used purchase in the window"),
    Col("control_responders", "bigint", ""),
    Col("test_response_rate", "double", "responders / customers (NULL for an empty arm)"),
    Col("control_response_rate", "double", ""),
    Col("lift", "double", "test minus control rate (total: post-stratified by cell)"),
    Col("lift_ci_low", "double", "95% interval: Newcombe's hybrid score (total: normal, "
                                 "stratified variance)"),
    Col("lift_ci_high", "double", ""),
    Col("p_value", "double", "two-sided, of equal rates"),
    Col("test_name", "string", "`z` (pooled), `fisher` (an expected count below 5) or "
                               "`stratified z`"),
    Col("p_value_adjusted", "double", "Holm, across the level's values with both arms"),
    Col("test_revenue", "decimal(38,8)", "the arm's used amount in the window"),
    Col("control_revenue", "decimal(38,8)", ""),
    Col("incremental_revenue", "decimal(38,8)", "revenue per member, test minus control, "
                                                "times test members"),
    Col("mde", "double", "smallest lift detectable at 80% power (two-sided 5%)"),
    Col("srm_p_value", "double", "sample-ratio check of the arms against the control share"),
    Col("min_response", "double", "the response-rate rule's threshold"),
    Col("cost_per_contact", "double", "the cost rule's inputs (NULL: the rate rule decides)"),
    Col("margin_per_response", "double", ""),
    Col("decision", "string", "`send` or `stop`")),
    partition_by="campaign_id", run_table=False)

_MODEL = Col("model_id", "string", "the trained model (a new id per `jobs/churn.py` run)")
_PER_MODEL = "map<string,map<string,double>>"
_CURVE = "map<string,array<struct<x:double,y:double,rows:bigint>>>"

CHURN_SCORES = Table("rfm_churn_scores", "one row per customer of a run and churn model, "
                                         "visible once its rfm_churn_models row is written", (
    *_run(Col("customer_id", "string", "as in the run's rfm_customers")), _MODEL,
    Col("eligible", "boolean", "in the label's population at the as-of date (`drop`: at "
                               "least `churn.min_orders` orders in the last horizon)"),
    Col("churn_probability", "double", "calibrated probability of churning in the next "
                                       "`churn.horizon_days`"),
    Col("p_alive", "double", "BG/NBD probability of being alive at the as-of date"),
    Col("expected_purchases", "double", "BG/NBD expected purchase days in the horizon"),
    Col("expected_order_value", "double", "Gamma-Gamma expected value of a purchase day"),
    Col("clv", "double", "expected purchases x order value over `churn.clv_months`, "
                         "discounted monthly"),
    Col("value", "double", "`churn.value`: money in the last horizon, or clv"),
    Col("churn_band", "string", "the churn probability's band (`churn.churn_bands`)"),
    Col("value_band", "string", "the value's band (`churn.value_bands`)"),
    Col("churn_segment", "string", "the churn x value cell's name (`churn.grid`)"),
    Col("action", "string", "the cell's action (NULL when the grid names none)")),
    run_table=False)

CHURN_MODELS = Table("rfm_churn_models", "one row per trained churn model", (
    _MODEL, *_run(),
    Col("trained_at", "timestamp", "UTC"),
    Col("model", "string", "`gbt` or `logistic`: the model that scored"),
    Col("label", "string", "`drop` or `inactive`"),
    Col("horizon_days", "int", "the label's horizon"),
    Col("observation_dates", "array<date>", "the training dates, oldest first; the last "
                                            "one validated"),
    Col("training_rows", "bigint", "customer x date rows trained on (after sampling)"),
    Col("validation_rows", "bigint", "rows of the validation date"),
    Col("positive_rate", "double", "churned share of the labelled rows (before sampling)"),
    Col("sample_weights", "map<string,double>", "weight of each class's rows (`churned`, "
                                                "`retained`): 1 unless sampled"),
    Col("metrics", _PER_MODEL, "model or baseline -> metric -> value, on the validation date"),
    Col("feature_importances", _PER_MODEL, "model -> feature -> GBT importance or "
                                           "standardized logistic coefficient"),
    Col("roc", _CURVE, "model or baseline -> ROC points (x: false, y: true positive rate)"),
    Col("calibration", _CURVE, "model or baseline -> 10 bins (x: mean predicted, y: observed "
                               "rate); models trained before 2026-12-03: the models' only"),
    Col("calibration_method", "string", "`platt`, `isotonic` or `none`"),
    Col("bgnbd_r", "double", "BG/NBD at the as-of date (weeks)"),
    Col("bgnbd_alpha", "double", ""), Col("bgnbd_a", "double", ""), Col("bgnbd_b", "double", ""),
    Col("bgnbd_log_likelihood", "double", ""),
    Col("bgnbd_standard_errors", "array<double>", "of r, alpha, a, b"),
    Col("gamma_gamma_p", "double", "Gamma-Gamma on repeat customers' mean purchase-day value"),
    Col("gamma_gamma_q", "double", ""), Col("gamma_gamma_v", "double", ""),
    Col("time_unit_days", "int", "BG/NBD time unit (7: weeks)"),
    Col("model_path", "string", "the fitted MLlib pipeline (`PipelineModel.load`)")),
    partition_by=None, run_table=False)

_LEVEL = (Col("level", "string", "`segment`, `group` or `all` (`basket.level`)"),
          Col("value", "string", "the segment or group (`all` for every customer)"))

BASKET_RULES = Table("rfm_basket_rules", "one row per run, level value and association rule "
                                         "(`jobs/basket.py`); a run's rules of one level are "
                                         "replaced in one commit", (
    *_run(*_LEVEL),
    Col("antecedent", "array<string>", "the items bought (sorted item ids)"),
    Col("consequent", "array<string>", "the item they lead to (FP-Growth gives one)"),
    Col("antecedent_baskets", "bigint", "the value's baskets holding the antecedent"),
    Col("consequent_baskets", "bigint", "the value's baskets holding the consequent"),
    Col("baskets", "bigint", "the value's baskets holding both"),
    Col("level_baskets", "bigint", "the value's baskets (of at most `basket.max_items` items)"),
    Col("support", "double", "baskets / level_baskets"),
    Col("confidence", "double", "baskets / antecedent_baskets"),
    Col("lift", "double", "confidence / (consequent_baskets / level_baskets)"),
    Col("population_lift", "double", "the rule's lift over every customer's baskets"),
    Col("p_value", "double", "one-sided Fisher exact test of a positive association"),
    Col("p_value_adjusted", "double", "Benjamini-Hochberg, across the value's mined rules")),
    run_table=False)

RECOMMENDATIONS = Table("rfm_recommendations", "the top `basket.recommend` items per customer "
                                               "of a run, from their level value's rules; a "
                                               "run's rows are replaced in one commit", (
    Col("run_id", "string", "the run"),
    Col("customer_id", "string", "as in the run's rfm_customers"),
    Col("rank", "int", "1 = the best item for the customer"),
    Col("item", "string", "the item recommended (never one bought in `basket.recent_days`)"),
    Col("score", "double", "the confidence of the best rule leading to it"),
    Col("rule", "array<string>", "that rule's antecedent: what the customer bought")),
    run_table=False)

BASKET_EVALUATION = Table("rfm_basket_evaluation", "one row per run, holdout and level value "
                                                   "(`jobs/basket.py --holdout-days`)", (
    *_run(*_LEVEL),
    Col("holdout_days", "int", "rules mined up to the cutoff, checked on the days after it"),
    Col("cutoff_date", "date", "as_of_date minus holdout_days"),
    Col("customers", "bigint", "customers with a recommendation at the cutoff"),
    Col("customers_hit", "bigint", "of them, those who bought a recommended item after it"),
    Col("hit_rate", "double", "customers_hit / customers"),
    Col("recommendations", "bigint", "items recommended"),
    Col("recommendations_hit", "bigint", "items recommended and bought after the cutoff"),
    Col("precision", "double", "recommendations_hit / recommendations"),
    Col("popular_hit_rate", "double", "hit rate of the value's most popular items instead "
                                      "(the baseline the rules should beat)")),
    run_table=False)

UPGRADE_SIMULATION = Table("rfm_upgrade_simulation", "one row per run, scenario and step up "
                                                     "the monetary tiers (source 003)", _run(
    Col("scenario", "string", "`simulation.upgrade.scenarios` name"),
    Col("from_grade", "int", "the tier the candidates are in"),
    Col("to_grade", "int", "the next tier up (more monetary)"),
    Col("tier_customers", "bigint", "customers in from_grade"),
    Col("candidates", "bigint", "its top ceil(top_share x tier_customers) by monetary (ties: "
                                "customer id)"),
    Col("candidates_monetary", "decimal(38,8)", "their monetary"),
    Col("target_value", "decimal(38,8)", "to_grade's smallest (or median) monetary"),
    Col("gap_total", "decimal(38,8)", "sum over candidates of target_value minus monetary (at least 0 each)"),
    Col("conversion_rate", "double", "the scenario's assumed rate for the step"),
    Col("expected_upgrades", "double", "conversion_rate x candidates"),
    Col("expected_uplift", "decimal(38,8)", "conversion_rate x gap_total"),
    Col("uplift_share", "double", "expected_uplift / every customer's monetary"),
    _ATTEMPT))

SEGMENTATION_TABLES = (CUSTOMERS, SEGMENTS, THRESHOLDS, REJECTS, QUALITY, RUNS, MIGRATIONS)
CAMPAIGN_TABLES = (CAMPAIGNS, CAMPAIGN_MEMBERS, CAMPAIGN_RESULTS)
CHURN_TABLES = (CHURN_MODELS, CHURN_SCORES)
BASKET_TABLES = (BASKET_RULES, RECOMMENDATIONS, BASKET_EVALUATION)
TABLES: dict[str, Table] = {table.name: table for table in
                            (*SEGMENTATION_TABLES, UPGRADE_SIMULATION, *CAMPAIGN_TABLES,
                             *CHURN_TABLES, *BASKET_TABLES)}
RUN_TABLES = tuple(name for name, table in TABLES.items() if table.run_table)

# Names a group attribute must not take: any column of a table that holds segments.
RESERVED_COLUMNS = frozenset(col.name for table in SEGMENTATION_TABLES
                             for col in table.columns) | {"segment_action", "group_action"}


def markdown() -> str:
    """The README's output-table reference, one list per table."""
    lines = []
    for table in TABLES.values():
        partitioned = (f"partitioned by `{table.partition_by}`" if table.partition_by
                       else "not partitioned")
        lines.append(f"- **`{table.name}`**: {table.doc}; {partitioned}.")
        for col in table.columns:
            doc = f": {col.doc}" if col.doc else ""
            lines.append(f"  - `{col.name}` {col.type}{doc}")
    return "\n".join(lines)


def _rewrite_readme(path: str) -> None:
    """`python -m rfm_spark.tables README.md`: renders the block between the markers."""
    import re
    from pathlib import Path
    text = Path(path).read_text(encoding="utf-8")
    block = f"<!-- tables:begin -->\n{markdown()}\n<!-- tables:end -->"
    Path(path).write_text(re.sub(r"<!-- tables:begin -->.*?<!-- tables:end -->",
                                 lambda _: block, text, flags=re.S), encoding="utf-8")


if __name__ == "__main__":
    import sys
    _rewrite_readme(sys.argv[1])
