import pytest

from rfm_spark.config import SegmentRule
from rfm_spark.segments import assign_segments, code_frame, segment_summary

# Two R grades, two F grades, one M grade: codes 111, 121, 211, 221.
GRADE_COUNTS = (2, 2, 1)
RULES = (SegmentRule("Top", "A", ["1**"]), SegmentRule("Rest", "B", ["2**"]))


def test_codes_map_to_segments_and_the_summary_keeps_empty_codes(spark):
    graded = spark.createDataFrame(
        [("a", 1, 1, 1, 0, 3, 10.0), ("b", 1, 2, 1, 2, 1, 30.0), ("c", 1, 2, 1, 4, 1, 0.0)],
        "customer_id string, r_grade int, f_grade int, m_grade int, recency_days int, "
        "frequency long, monetary double")
    segmented = assign_segments(graded, RULES, GRADE_COUNTS)
    got = {r.customer_id: (r.segment_code, r.segment, r.group) for r in segmented.collect()}
    assert got == {"a": ("111", "Top", "A"), "b": ("121", "Top", "A"), "c": ("121", "Top", "A")}

    summary = {r.segment_code: r for r in
               segment_summary(segmented, code_frame(spark, RULES, GRADE_COUNTS)).collect()}
    assert sorted(summary) == ["111", "121", "211", "221"]
    assert (summary["121"].customers, summary["121"].monetary_total) == (2, 30.0)
    assert summary["121"].share == pytest.approx(2 / 3)
    assert summary["121"].monetary_share == pytest.approx(0.75)
    assert summary["121"].mean_recency_days == pytest.approx(3.0)
    assert (summary["221"].customers, summary["221"].share, summary["221"].segment) == (
        0, 0.0, "Rest")
