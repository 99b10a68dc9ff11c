from chispa import assert_df_equality
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from rfm_spark.config import Grading, MetricGrading
from rfm_spark.grading import GradingPlan, grade, thresholds_table
from rfm_spark.synthetic import generate_transactions

SCHEMA = "customer_id string, recency_days int, frequency long, monetary double"


def customers(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def graded(frame, grading):
    return grade(frame, GradingPlan(grading, "orders"))[0]


def grades(graded):
    return {r.customer_id: (r.r_grade, r.f_grade, r.m_grade) for r in graded.collect()}


def test_thresholds_closed_right_and_left_at_the_boundary(spark):
    frame = customers(spark, [("a", 30, 3, 10.0), ("b", 31, 4, 9.99), ("c", 365, 27, 100.0),
                              ("d", 366, 28, 0.0)])
    grading = Grading(
        recency=MetricGrading(method="thresholds", grades=4, cuts=[30, 100, 365]),
        frequency=MetricGrading(method="thresholds", grades=3, cuts=[4, 28], closed="left"),
        monetary=MetricGrading(method="thresholds", grades=2, cuts=[10]))
    got = grades(graded(frame, grading))
    # R: <=30 best; F: [4, 28) middle, >=28 best; M: >10 best, <=10 worst.
    assert got == {"a": (1, 3, 2), "b": (2, 2, 2), "c": (3, 2, 1), "d": (4, 1, 2)}


def test_best_highest_reverses_every_method(spark):
    frame = customers(spark, [("a", 1, 9, 50.0), ("b", 50, 1, 1.0)])
    grading = Grading(best="highest",
                      recency=MetricGrading(method="thresholds", grades=2, cuts=[10]),
                      frequency=MetricGrading(grades=2), monetary=MetricGrading(grades=2))
    assert grades(graded(frame, grading)) == {
        "a": (2, 2, 2), "b": (1, 1, 1)}


def test_quantile_ties_never_split(spark):
    # 8 customers, 4 grades: b = 0, 0, 0, 3, 4, 4, 4, 7 -> grade 1 + floor(4b/8).
    frame = customers(spark, [(str(i), r, 1, 1.0) for i, r in
                              enumerate([5, 5, 5, 6, 7, 7, 7, 9])])
    grading = Grading(recency=MetricGrading(grades=4))
    got = grades(graded(frame, grading))
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
    got = graded(frame, grading).select(
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
    before = grades(graded(frame, grading))
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    try:
        after = grades(graded(frame, grading))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert before == after


def test_thresholds_table_lists_every_grade_with_cut_points(spark):
    frame = customers(spark, [("a", 10, 1, 5.0), ("b", 200, 2, 15.0)])
    grading = Grading(recency=MetricGrading(method="thresholds", grades=3, cuts=[30, 100]))
    plan = GradingPlan(grading, "orders")
    result, cuts = grade(frame, plan)
    table = {(r.metric, r.grade): r for r in thresholds_table(result, plan, cuts).collect()}
    assert len(table) == 9
    recency = [table[("recency", g)] for g in (1, 2, 3)]
    assert [r.customers for r in recency] == [1, 0, 1]
    assert recency[0].cut_points == [30.0, 100.0] and recency[0].method == "thresholds"
    assert (recency[2].min_value, recency[2].max_value) == (200.0, 200.0)
    assert recency[1].min_value is None


def cuts_by_scope(frame, grading, orders=None):
    plan = GradingPlan(grading, "orders", ("store",) if "store" in frame.columns else ())
    result, cuts = grade(frame, plan, orders)
    table = thresholds_table(result, plan, cuts)
    return result, {(r.metric, r.scope): (r.method, r.cut_points, r.closed)
                    for r in table.where("grade = 1").collect()}


THRESHOLD = MetricGrading(method="thresholds", cuts=[10])


def test_nested_frequency_within_recency_and_monetary_within_both(spark):
    # R: <=10 -> 1. F quantile (2 grades) within each R grade: R1 holds 10 20 30 -> 30, 20 get
    # 1, 10 gets 1 + floor(2 * 2 / 3) = 2; R2 holds 1 2 -> 2 gets 1, 1 gets 2. Graded all
    # together, 10 would be grade 1 and 2 grade 2. M: cut at the median of each R-F cell:
    # (1,1) holds 100 300 -> 200, so 100 -> 2 (the lower bin is the worse grade), 300 -> 1.
    frame = customers(spark, [("a", 5, 30, 300.0), ("b", 5, 20, 100.0), ("c", 5, 10, 50.0),
                              ("d", 20, 2, 7.0), ("e", 20, 1, 8.0)])
    grading = Grading(recency=THRESHOLD, frequency=MetricGrading(grades=2, within=("recency",)),
                      monetary=MetricGrading(method="percentiles", at=[50],
                                             within=("recency", "frequency")))
    result, cuts = cuts_by_scope(frame, grading)
    assert grades(result) == {"a": (1, 1, 1), "b": (1, 1, 2), "c": (1, 2, 2), "d": (2, 1, 2),
                              "e": (2, 2, 2)}
    assert cuts[("frequency", "r_grade=1")] == ("quantile", [10.0], "right")
    assert cuts[("frequency", "r_grade=2")] == ("quantile", [1.0], "right")
    assert cuts[("monetary", "r_grade=1, f_grade=1")] == ("percentiles", [200.0], "right")
    assert cuts[("recency", "")] == ("thresholds", [10.0], "right")


def test_partitioned_grading_cuts_each_partition_on_its_own(spark):
    # Store s1: recency 1 2 3 4 -> 2 grades: 1, 2 -> 1; 3, 4 -> 2. Store s2: 10 20 -> 1, 2.
    # A NULL store is its own partition.
    frame = spark.createDataFrame(
        [("a", "s1", 1, 1, 1.0), ("b", "s1", 2, 1, 1.0), ("c", "s1", 3, 1, 1.0),
         ("d", "s1", 4, 1, 1.0), ("a", "s2", 10, 1, 1.0), ("e", "s2", 20, 1, 1.0),
         ("f", None, 50, 1, 1.0)],
        "customer_id string, store string, recency_days int, frequency long, monetary double")
    grading = Grading(recency=MetricGrading(grades=2), frequency=THRESHOLD, monetary=THRESHOLD)
    result, cuts = cuts_by_scope(frame, grading)
    got = {(r.customer_id, r.store): r.r_grade for r in result.collect()}
    assert got == {("a", "s1"): 1, ("b", "s1"): 1, ("c", "s1"): 2, ("d", "s1"): 2,
                   ("a", "s2"): 1, ("e", "s2"): 2, ("f", None): 1}
    assert cuts[("recency", "store=s1")][1] == [2.0]
    assert cuts[("recency", "store=(null)")][1] == []


def test_mean_two_grades_and_a_value_at_the_mean_is_the_worse_one(spark):
    # Recency mean 3: 1, 2 better (1), 3 and 6 worse (2). Monetary mean 20: 30 better,
    # 10 and 20 worse (20 equals the mean).
    frame = customers(spark, [("a", 1, 1, 10.0), ("b", 2, 1, 20.0), ("c", 3, 1, 30.0),
                              ("d", 6, 1, 20.0)])
    grading = Grading(recency=MetricGrading(method="mean"), frequency=THRESHOLD,
                      monetary=MetricGrading(method="mean"))
    result, cuts = cuts_by_scope(frame, grading)
    assert {c: (r, m) for c, (r, _, m) in grades(result).items()} == {
        "a": (1, 2), "b": (1, 2), "c": (2, 1), "d": (2, 2)}
    assert cuts[("recency", "")] == ("mean", [3.0], "left")
    assert cuts[("monetary", "")] == ("mean", [20.0], "right")


def test_iqr_exact_and_approximate_percentiles(spark):
    # Monetary 1 2 6 10 12 14 18 100: Q1 = 2 + 0.75 * 4 = 5, Q3 = 14 + 0.25 * 4 = 15,
    # whisker 15 + 1.5 * 10 = 30. Approximate percentiles return values of the data.
    values = [1, 2, 6, 10, 12, 14, 18, 100]
    frame = customers(spark, [(str(v), 1, v, float(v)) for v in values])
    grading = Grading(recency=THRESHOLD, monetary=MetricGrading(method="iqr"),
                      frequency=MetricGrading(method="percentiles", at=[50], exact=False))
    result, cuts = cuts_by_scope(frame, grading)
    assert cuts[("monetary", "")] == ("iqr", [5.0, 15.0, 30.0], "right")
    assert [grades(result)[str(v)][2] for v in values] == [4, 4, 3, 3, 3, 3, 2, 1]
    assert cuts[("frequency", "")][1] == [10.0]  # the 4th of 8 values, not 11


def test_monetary_cut_points_from_order_amounts(spark):
    # Orders 10, 30 (customer a, mean 20), 20 (b), 40 (c): median of orders = 25, while the
    # median of the customers' means (20 20 40) would be 20.
    frame = customers(spark, [("a", 1, 2, 20.0), ("b", 1, 1, 20.0), ("c", 1, 1, 40.0)])
    orders = spark.createDataFrame([("a", 10.0), ("a", 30.0), ("b", 20.0), ("c", 40.0)],
                                   "customer_id string, amount double")
    grading = Grading(recency=THRESHOLD, frequency=THRESHOLD,
                      monetary=MetricGrading(method="percentiles", at=[50], of="orders"))
    result, cuts = cuts_by_scope(frame, grading, orders)
    assert cuts[("monetary", "")][1] == [25.0]
    assert {c: g[2] for c, g in grades(result).items()} == {"a": 2, "b": 2, "c": 1}
