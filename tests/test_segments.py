import pytest

from rfm_spark.config import Grading, GroupRule, MetricGrading, Score, SegmentRule, TagRule
from rfm_spark.rules import code_table
from rfm_spark.segments import assign_segments, code_frame, segment_summary

# Two R grades, two F grades, one M grade: codes 111, 121, 211, 221.
GRADE_COUNTS = (2, 2, 1)
METRICS = ("recency", "frequency", "monetary")
GRADING = Grading(recency=MetricGrading(grades=2), frequency=MetricGrading(grades=2),
                  monetary=MetricGrading(grades=2), score=Score(recency=0.5, frequency=0.25))
TABLE = code_table(
    (SegmentRule("Top", ("1**",), group="A", id="t", action="thank them"),
     SegmentRule("Rest", ("2**",), group="B")),
    (GroupRule("A", id="10", attributes={"warmth": 1}), GroupRule("B", attributes={"warmth": 5})),
    (TagRule("Frequent", where={"frequency": 1}), TagRule("Recent", ("1**",))),
    GRADE_COUNTS, METRICS)
SCHEMA = ("customer_id string, r_grade int, f_grade int, m_grade int, recency_days int, "
          "frequency long, monetary double")


def test_codes_map_to_every_level_tags_and_score(spark):
    graded = spark.createDataFrame(
        [("a", 1, 1, 1, 0, 3, 10.0), ("b", 1, 2, 1, 2, 1, 30.0), ("c", 2, 2, 1, 4, 1, 0.0)],
        SCHEMA)
    got = {r.customer_id: r.asDict() for r in assign_segments(graded, TABLE, GRADING).collect()}
    assert {k: got["a"][k] for k in ("segment_code", "segment_id", "segment", "group_id",
                                     "group", "warmth", "tags")} == {
        "segment_code": "111", "segment_id": "t", "segment": "Top", "group_id": "10",
        "group": "A", "warmth": 1, "tags": ["Frequent", "Recent"]}
    # score = 0.5 R + 0.25 F (+ 0 M)
    assert [float(got[c]["score"]) for c in "abc"] == [0.75, 1.0, 1.5]
    assert (got["c"]["segment"], got["c"]["group_id"], got["c"]["warmth"], got["c"]["tags"]) == (
        "Rest", None, 5, [])


def test_summary_keeps_empty_codes_with_actions(spark):
    graded = spark.createDataFrame(
        [("a", 1, 1, 1, 0, 3, 10.0), ("b", 1, 2, 1, 2, 1, 30.0), ("c", 1, 2, 1, 4, 1, 0.0)],
        SCHEMA)
    segmented = assign_segments(graded, TABLE, GRADING)
    summary = {r.segment_code: r for r in
               segment_summary(segmented, code_frame(spark, TABLE)).collect()}
    assert sorted(summary) == ["111", "121", "211", "221"]
    assert (summary["121"].customers, summary["121"].monetary_total) == (2, 30.0)
    assert summary["121"].share == pytest.approx(2 / 3)
    assert summary["121"].monetary_share == pytest.approx(0.75)
    assert summary["121"].mean_recency_days == pytest.approx(3.0)
    assert summary["121"].segment_action == "thank them"
    assert (summary["221"].customers, summary["221"].share, summary["221"].segment,
            summary["221"].warmth) == (0, 0.0, "Rest", 5)


def test_summary_per_partition(spark):
    graded = spark.createDataFrame(
        [("a", "s1", 1, 1, 1, 0, 3, 10.0), ("b", "s2", 1, 2, 1, 2, 1, 30.0),
         ("a", "s2", 2, 2, 1, 4, 1, 10.0)],
        "customer_id string, store string, r_grade int, f_grade int, m_grade int, "
        "recency_days int, frequency long, monetary double")
    segmented = assign_segments(graded, TABLE, GRADING)
    rows = segment_summary(segmented, code_frame(spark, TABLE), ("store",)).collect()
    sizes = {(r.store, r.segment_code): (r.customers, r.share) for r in rows}
    assert len(sizes) == 8  # every code in each store
    assert sizes[("s1", "111")] == (1, 1.0)
    assert sizes[("s2", "121")] == (1, 0.5) and sizes[("s2", "221")] == (1, 0.5)
