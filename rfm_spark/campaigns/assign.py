"""Who is in a campaign and in which arm: the run's customers in the selected cells, and
in each cell (segment code) exactly round(n x control_share) of them in control, chosen
by a keyed hash. Pure transforms plus the selection, which is resolved on the run's
rfm_segments rows (one per possible code)."""
from __future__ import annotations

import dataclasses
import decimal
from typing import Iterable, Sequence

from pyspark.sql import DataFrame, Window as W
from pyspark.sql import functions as F

from rfm_spark.errors import ConfigError
from rfm_spark.rules import RuleError, expand

TEST, CONTROL = "test", "control"


@dataclasses.dataclass(frozen=True)
class Selection:
    """The selectors of `assign`: segment names, group names, code patterns (any of
    them selects a code); none selects every code."""
    segments: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()

    def describe(self) -> str:
        """The selection as text, stored with the campaign (same selectors, same text)."""
        parts = [f"{kind}: {', '.join(sorted(set(values)))}"
                 for kind, values in (("segment", self.segments), ("group", self.groups),
                                      ("code", self.codes)) if values]
        return "; ".join(parts) or "all"

    def resolve(self, cells: Sequence) -> list[str]:
        """The codes selected among `cells` (rfm_segments rows of the run: segment_code,
        segment, group, customers); raises ConfigError naming a selector that matches
        nothing."""
        codes = [cell.segment_code for cell in cells]
        if not (self.segments or self.groups or self.codes):
            return sorted(codes)
        chosen: set[str] = set()
        for kind, values in (("segment", self.segments), ("group", self.groups)):
            known = {getattr(cell, kind) for cell in cells}
            for value in values:
                if value not in known:
                    raise ConfigError(f"--{kind} {value!r}: the run has no such {kind} "
                                      f"(it has {', '.join(sorted(map(str, known)))})")
                chosen |= {cell.segment_code for cell in cells if getattr(cell, kind) == value}
        grade_counts = tuple(max(int(code[i]) for code in codes) for i in range(len(codes[0])))
        for pattern in self.codes:
            try:
                matched = set(expand(pattern, grade_counts)) & set(codes)
            except RuleError as error:
                raise ConfigError(f"--code {pattern!r}: {error}") from None
            if not matched:
                raise ConfigError(f"--code {pattern!r} matches no code of the run")
            chosen |= matched
        return sorted(chosen)


def draw_arms(members: DataFrame, campaign_id: str, seed: int, control_share: float
              ) -> DataFrame:
    """Adds `arm`: per segment code, the round(n x control_share) members (half up) with
    the smallest keyed hash of (campaign id, seed, customer id) are control. The hash
    makes the draw repeatable and independent between campaigns and seeds."""
    share = F.lit(decimal.Decimal(repr(control_share))).cast("decimal(12,10)")
    draw_key = F.sha2(F.concat_ws("\u001f", F.lit(campaign_id), F.lit(str(seed)),
                                  F.col("customer_id")), 256)
    whole_cell = W.partitionBy("segment_code").rowsBetween(W.unboundedPreceding,
                                                          W.unboundedFollowing)
    by_draw = W.partitionBy("segment_code").orderBy("draw_key", "customer_id")
    controls = F.round(F.count(F.lit(1)).over(whole_cell).cast("decimal(20,0)") * share, 0)
    in_control = F.row_number().over(by_draw) <= controls
    return (members.withColumn("draw_key", draw_key)
            .withColumn("arm", F.when(in_control, F.lit(CONTROL)).otherwise(F.lit(TEST)))
            .drop("draw_key"))


def campaign_members(customers: DataFrame, codes: Iterable[str], actions: DataFrame
                     ) -> DataFrame:
    """The run's customers holding a selected code, with their segment's action
    (`actions`: segment_code, segment_action; one row per code)."""
    return (customers.where(F.col("segment_code").isin(list(codes)))
            .join(F.broadcast(actions), "segment_code", "left"))
