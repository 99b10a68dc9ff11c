import pytest
from chispa import assert_df_equality
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from rfm_spark.config import Grading, MetricGrading
from rfm_spark.grading import apply_grades, metric_bins, thresholds_table
from rfm_spark.synthetic import generate_transactions

SCHEMA = "customer_id string, recency_days int, frequency long, monetary double"


def customers(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def grades(graded):
    return {r.customer_id: (r.r_grade, r.f_grade, r.m_grade) for r in graded.collect()}


def test_thresholds_closed_right_and_left_at_the_boundary(spark):
    frame = customers(spark, [("a", 30, 3, 10.0), ("b", 31, 4, 9.99), ("c", 365, 27, 100.0),
                              ("d", 366, 28, 0.0)])
    grading = Grading(
        recency=MetricGrading(method="thresholds", grades=4, cuts=[30, 100, 365]),
        frequency=MetricGrading(method="thresholds", grades=3, cuts=[4, 28], closed="left"),
        monetary=MetricGrading(method="thresholds", grades=2, cuts=[10]))
    got = grades(apply_grades(frame, metric_bins(frame, grading)))
    # R: <=30 best; F: [4, 28) middle, >=28 best; M: >10 best, <=10 worst.
    assert got == {"a": (1, 3, 2), "b": (2, 2, 2), "c": (3, 2, 1), "d": (4, 1, 2)}


def test_best_highest_reverses_every_method(spark):
    frame = customers(spark, [("a", 1, 9, 50.0), ("b", 50, 1, 1.0)])
    grading = Grading(best="highest",
                      recency=MetricGrading(method="thresholds", grades=2, cuts=[10]),
                      frequency=MetricGrading(grades=2), monetary=MetricGrading(grades=2))
    assert grades(apply_grades(frame, metric_bins(frame, grading))) == {
        "a": (2, 2, 2), "b": (1, 1, 1)}


def test_quantile_ties_never_split(spark):
    # 8 customers, 4 grades: b = 0, 0, 0, 3, 4, 4, 4, 7 -> grade 1 + floor(4b/8).
    frame = customers(spark, [(str(i), r, 1, 1.0) for i, r in
                              enumerate([5, 5, 5, 6, 7, 7, 7, 9])])
    grading = Grading(recency=MetricGrading(grades=4))
    got = grades(apply_grades(frame, metric_bins(frame, grading)))
    assert [got[str(i)][0] for i in range(8)] == [1, 1, 1, 2, 3, 3, 3, 4]


def reference_grade(value, grades, lower_is_better):
    """The rule as a plain global window: rank() counts the customers strictly better."""
    order = F.col(value).asc() if lower_is_better else F.col(value).desc()
    better = F.rank().over(W.orderBy(order)) - 1
    return (1 + F.floor(grades * better / F.count(F.lit(1)).over(W.partitionBy()))).cast("int")


def test_quantile_equals_plain_window_reference_on_generated_data(spark):
    transactions = generate_transactions(spark, rows=20_000, customers=1_000, seed=7)
    frame = (transactions.groupBy("customer_id").agg(
        F.datediff(F.lit("2020-09-22"), F.max("t_dat")).alias("recency_days"),
        F.count_distinct("t_dat").cast("long").alias("frequency"),
        F.round(F.sum("price"), 6).alias("monetary")))
    grading = Grading(recency=MetricGrading(grades=5), frequency=MetricGrading(grades=4),
                      monetary=MetricGrading(grades=3))
    got = apply_grades(frame, metric_bins(frame, grading)).select(
        "customer_id", "r_grade", "f_grade", "m_grade")
    expected = frame.select(
        "customer_id",
        reference_grade("recency_days", 5, True).alias("r_grade"),
        reference_grade("frequency", 4, False).alias("f_grade"),
        reference_grade("monetary", 3, False).alias("m_grade"))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_quantile_grades_are_the_same_with_many_range_partitions(spark):
    frame = customers(spark, [(str(i), i % 17, i % 5, float(i % 23)) for i in range(300)])
    grading = Grading(recency=MetricGrading(grades=4))
    before = grades(apply_grades(frame, metric_bins(frame, grading)))
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        after = grades(apply_grades(frame, metric_bins(frame, grading)))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert before == after


def test_thresholds_table_lists_every_grade_with_cut_points(spark):
    frame = customers(spark, [("a", 10, 1, 5.0), ("b", 200, 2, 15.0)])
    grading = Grading(recency=MetricGrading(method="thresholds", grades=3, cuts=[30, 100]))
    bins = metric_bins(frame, grading)
    table = {(r.metric, r.grade): r for r in
             thresholds_table(apply_grades(frame, bins), bins).collect()}
    assert len(table) == 9
    recency = [table[("recency", g)] for g in (1, 2, 3)]
    assert [r.customers for r in recency] == [1, 0, 1]
    assert recency[0].cut_points == [30.0, 100.0] and recency[0].method == "thresholds"
    assert (recency[2].min_value, recency[2].max_value) == (200.0, 200.0)
    assert recency[1].min_value is None
