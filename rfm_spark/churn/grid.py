"""The churn x value grid (source 004: churn probability crossed with profitability):
each score's band by thresholds or exact quantiles, then the cell's name and action from
`churn.grid`."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rfm_spark.config import Bands, Churn


def cut_values(scored: DataFrame, column: str, bands: Bands) -> list[float]:
    """The bands' cut points: the thresholds, or the exact quantiles of `column` over
    the scored customers (one aggregate row)."""
    if bands.method == "thresholds" or not bands.cuts:
        return list(bands.cuts)
    found = scored.agg(F.percentile(column, list(bands.cuts)).alias("cuts")).first()[0]
    return [float(value) for value in found or [0.0] * len(bands.cuts)]


def band(value: Column, cuts: list[float], names: tuple[str, ...]) -> Column:
    """The band's name: a value equal to a cut falls in the lower band."""
    named = F.lit(names[-1])
    for cut, name in reversed(list(zip(cuts, names))):
        named = F.when(value <= F.lit(cut), F.lit(name)).otherwise(named)
    return named


def with_grid(scored: DataFrame, spec: Churn, churn_cuts: list[float], value_cuts: list[float]
              ) -> DataFrame:
    """`scored` (churn_probability, value) with churn_band, value_band, churn_segment and
    action."""
    cells = [spec.cell(c, v) for c in spec.churn_bands.names for v in spec.value_bands.names]
    key = F.concat_ws("|", "churn_band", "value_band")
    segment = F.create_map(*[F.lit(x) for cell in cells
                             for x in (f"{cell.churn}|{cell.value}", cell.segment)])
    action = F.create_map(*[F.lit(x) for cell in cells
                            for x in (f"{cell.churn}|{cell.value}", cell.action)])
    return (scored
            .withColumn("churn_band", band(F.col("churn_probability"), churn_cuts,
                                           spec.churn_bands.names))
            .withColumn("value_band", band(F.col("value"), value_cuts, spec.value_bands.names))
            .withColumn("churn_segment", segment[key])
            .withColumn("action", action[key].cast("string")))
