"""The sections of what was done with a run, each shown only when its tables hold rows
for the run: its campaigns (rfm_campaigns, rfm_campaign_results), its churn model
(rfm_churn_models, rfm_churn_scores), its cross-sell rules (rfm_basket_rules,
rfm_basket_evaluation) and its upgrade simulation (rfm_upgrade_simulation)."""
from __future__ import annotations

from pyspark.sql import functions as F

from rfm_spark import figures
from rfm_spark.basket.summary import top_rules
from rfm_spark.churn.summary import SHOWN_METRICS, grid_cells
from rfm_spark.html_report import page
from rfm_spark.html_report.context import Block, ReportContext, Section

MAX_CAMPAIGNS = 5          # the newest drawn on the run
RULES_PER_VALUE = 3        # the strongest rules drawn per level value
MAX_RULE_VALUES = 12       # the level values with the most baskets drawn
_LEVELS = ("total", "group", "segment")


def campaign_blocks(ctx: ReportContext) -> list[Block]:
    campaigns = (ctx.table("rfm_campaigns").where(F.col("run_id") == ctx.run.run_id)
                 .orderBy(F.desc("created_at")).limit(MAX_CAMPAIGNS)
                 .collect())  # MAX_CAMPAIGNS rows at most
    if not campaigns:
        return []
    ids = [c.campaign_id for c in campaigns]
    results = (ctx.table("rfm_campaign_results").where(F.col("campaign_id").isin(ids))
               .collect())  # per campaign: windows x (cells + segments + groups + 1)
    names = {row.segment_code: row.segment for row in ctx.rows("rfm_segments")
             .select("segment_code", "segment").distinct().collect()}  # one row per code
    blocks: list[Block] = []
    for campaign in campaigns:
        measured = [r for r in results if r.campaign_id == campaign.campaign_id]
        blocks.append(page.paragraph(_campaign_line(campaign, measured)))
        if not measured:
            continue
        latest = max(measured, key=lambda r: (r.measured_at, r.window_days))
        window = [r for r in measured if r.window_days == latest.window_days]
        cells = sorted((r for r in window if r.level == "segment_code"), key=lambda r: r.value)
        title = f"{campaign.campaign_id}, {latest.window_days}-day window"
        blocks += [figures.campaign_response_figure(cells, names, title),
                   figures.campaign_lift_figure(cells, names, title),
                   _results_table(window)]
    return blocks


def _campaign_line(campaign, measured: list) -> str:
    line = (f"Campaign {campaign.campaign_id}: {campaign.members:,} members "
            f"({campaign.test_members:,} test, {campaign.control_members:,} control, "
            f"{campaign.control_share:.0%} planned control) from {campaign.selection}, "
            f"starting {campaign.start_date}.")
    if not measured:
        return line + " Not measured yet."
    latest = max(measured, key=lambda r: (r.measured_at, r.window_days))
    complete = "" if latest.window_complete else " (the input ends before the window does)"
    return (line + f" Measured over {latest.window_days} days through "
                   f"{latest.measured_through}{complete}.")


def _results_table(window: list) -> page.Html:
    shown = sorted((r for r in window if r.level in _LEVELS),
                   key=lambda r: (_LEVELS.index(r.level), str(r.value)))
    rows = [(r.level, r.value, page.count(r.test_customers), page.count(r.control_customers),
             page.percent(r.test_response_rate, 2), page.percent(r.control_response_rate, 2),
             page.percent(r.lift, 2),
             "" if r.lift_ci_low is None else
             f"{page.percent(r.lift_ci_low, 2)} to {page.percent(r.lift_ci_high, 2)}",
             "" if r.p_value_adjusted is None else f"{r.p_value_adjusted:.3f}",
             page.number(r.incremental_revenue), r.decision) for r in shown]
    return page.table(["level", "value", "test", "control", "test rate", "control rate",
                       "lift", "95% interval", "adjusted p", "incremental revenue",
                       "decision"], rows, numeric=(2, 3, 4, 5, 6, 7, 8, 9))


def churn_blocks(ctx: ReportContext) -> list[Block]:
    model = (ctx.table("rfm_churn_models").where(F.col("run_id") == ctx.run.run_id)
             .orderBy(F.desc("trained_at")).first())  # the newest model of the run
    if model is None:
        return []
    record = model.asDict(recursive=True)
    scores = ctx.table("rfm_churn_scores").where(
        (F.col("run_id") == ctx.run.run_id) & (F.col("model_id") == record["model_id"]))
    cells = grid_cells(scores).collect()  # one row per churn x value cell
    dates = record["observation_dates"] or []
    blocks: list[Block] = [
        page.paragraph(f"Model {record['model_id']} ({record['model']}, label "
                       f"{record['label']}, {record['horizon_days']}-day horizon): trained on "
                       f"{page.count(record['training_rows'])} rows, validated on "
                       f"{dates[-1] if dates else '?'} "
                       f"({page.count(record['validation_rows'])} rows)."),
        page.table(["model or baseline", *SHOWN_METRICS],
                   [(name, *(page.number(found.get(m), 3) for m in SHOWN_METRICS))
                    for name, found in (record["metrics"] or {}).items()],
                   numeric=tuple(range(1, len(SHOWN_METRICS) + 1))),
        figures.roc_figure(record), figures.calibration_figure(record)]
    if record["model"] in (record["feature_importances"] or {}):
        blocks.append(figures.importances_figure(record, record["model"]))
    if cells:
        blocks.append(figures.churn_grid_figure(cells))
    return blocks


def basket_blocks(ctx: ReportContext) -> list[Block]:
    of_run = F.col("run_id") == ctx.run.run_id
    rules = ctx.table("rfm_basket_rules").where(of_run)
    sizes = (rules.groupBy("level", "value")
             .agg(F.count(F.lit(1)).alias("rules"), F.max("level_baskets").alias("baskets"))
             .collect())  # one row per level value: segments at most
    blocks: list[Block] = []
    for level in sorted({row.level for row in sizes}):
        values = sorted((r for r in sizes if r.level == level), key=lambda r: -r.baskets)
        drawn = [r.value for r in values[:MAX_RULE_VALUES]]
        shown = top_rules(rules.where((F.col("level") == level) & F.col("value").isin(drawn)),
                          RULES_PER_VALUE)  # MAX_RULE_VALUES x RULES_PER_VALUE rows
        blocks += [page.paragraph(
            f"{sum(r.rules for r in values):,} rules mined per {level} in "
            f"{len(values):,} values; the {RULES_PER_VALUE} with the highest lift of the "
            f"{min(len(values), MAX_RULE_VALUES)} values with the most baskets are shown."),
            figures.basket_rules_figure(shown, level), _rules_table(shown)]
    evaluation = (ctx.table("rfm_basket_evaluation").where(of_run)
                  .orderBy("holdout_days", F.desc("customers")).collect())  # values x holdouts
    if evaluation:
        blocks += [page.paragraph("Holdout: rules mined up to the cutoff, checked on the days "
                                  "after it against each value's most popular items."),
                   page.table(["level", "value", "holdout days", "customers", "hit rate",
                               "precision", "popular items' hit rate"],
                              [(r.level, r.value, r.holdout_days, page.count(r.customers),
                                page.percent(r.hit_rate), page.percent(r.precision),
                                page.percent(r.popular_hit_rate)) for r in evaluation],
                              numeric=(2, 3, 4, 5, 6))]
    return blocks


def _rules_table(rules: list) -> page.Html:
    return page.table(["value", "rule", "baskets", "support", "confidence", "lift",
                       "lift over all", "adjusted p"],
                      [(r.value, figures.rule_label(r), page.count(r.baskets),
                        page.percent(r.support, 2), page.percent(r.confidence),
                        page.number(r.lift, 1), page.number(r.population_lift, 1),
                        f"{r.p_value_adjusted:.2g}") for r in rules],
                      numeric=(2, 3, 4, 5, 6, 7))


def upgrade_blocks(ctx: ReportContext) -> list[Block]:
    found = ctx.rows("rfm_upgrade_simulation").collect()  # scenarios x grades
    if not found:
        return []
    steps = figures.upgrade_steps(found)
    rows = sorted(found, key=lambda r: (r.scenario, steps.index((r.from_grade, r.to_grade))))
    table = page.table(["scenario", "step", "tier customers", "candidates", "gap to target",
                        "conversion", "expected upgrades", "expected uplift", "of all money"],
                       [(r.scenario, f"{r.from_grade} -> {r.to_grade}",
                         page.count(r.tier_customers), page.count(r.candidates),
                         page.number(r.gap_total), page.percent(r.conversion_rate, 0),
                         page.number(r.expected_upgrades, 0), page.number(r.expected_uplift),
                         page.percent(r.uplift_share, 2)) for r in rows],
                       numeric=(2, 3, 4, 5, 6, 7, 8))
    return [figures.upgrade_uplift_figure(rows), table]


CAMPAIGNS = Section("campaigns", "Campaigns",
                    "Test against control in every cell: the response, the lift with its "
                    "95% interval, and the cells worth sending to.", campaign_blocks)
CHURN = Section("churn", "Churn risk and value",
                "How well the churn model ranks customers against the baselines, what "
                "drives it, and who is valuable and at risk.", churn_blocks)
BASKET = Section("basket", "Cross-sell rules",
                 "What each segment's customers buy together: the strongest rules, and how "
                 "much more likely they are there than over everyone.", basket_blocks)
UPGRADE = Section("upgrade", "Upgrade simulation",
                  "What moving each monetary tier's top spenders up one tier would add, at "
                  "the assumed conversion rates (source 003).", upgrade_blocks)
