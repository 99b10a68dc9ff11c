"""Transitions between two runs, worked out by hand."""
import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality

from rfm_spark.migration import transitions
from rfm_spark.tables import MIGRATIONS

A = ("a", dt.date(2024, 1, 31))
B = ("b", dt.date(2024, 2, 29))
CUSTOMERS = "customer_id string, segment_code string, segment string, group string, monetary decimal(38,8)"


def customers(spark, rows):
    return spark.createDataFrame([(c, code, name, group, Decimal(m)) for c, code, name, group, m
                                  in rows], CUSTOMERS)


def test_moves_up_down_same_new_and_gone(spark):
    before = customers(spark, [
        ("up", "211", "Sleeping", "S", "10"),
        ("down", "111", "VIP", "A", "50"),
        ("stay1", "111", "VIP", "A", "40"),
        ("stay2", "111", "VIP", "A", "60"),
        ("gone", "311", "Leaving", "L", "5"),
        ("regroup", "212", "Sleeping", "S", "1"),   # new code, same segment and group
    ])
    after = customers(spark, [
        ("up", "111", "VIP", "A", "25"),
        ("down", "211", "Sleeping", "S", "50"),
        ("stay1", "111", "VIP", "A", "45"),
        ("stay2", "111", "VIP", "A", "60"),
        ("new", "111", "VIP", "A", "7"),
        ("regroup", "211", "Sleeping", "S", "2"),
    ])
    got = transitions(before, after, A, B, levels=("segment_code", "segment"))

    def row(level, frm, to, change, n, m_from, m_to):
        return (*A[:1], *B[:1], A[1], B[1], level, frm, to, change, n, Decimal(m_from), Decimal(m_to))
    expected = spark.createDataFrame([
        row("segment_code", "211", "111", "moved", 1, "10", "25"),
        row("segment_code", "111", "211", "moved", 1, "50", "50"),
        row("segment_code", "111", "111", "same", 2, "100", "105"),
        row("segment_code", "311", None, "gone", 1, "5", "0"),
        row("segment_code", None, "111", "new", 1, "0", "7"),
        row("segment_code", "212", "211", "moved", 1, "1", "2"),
        row("segment", "Sleeping", "VIP", "moved", 1, "10", "25"),
        row("segment", "VIP", "Sleeping", "moved", 1, "50", "50"),
        row("segment", "VIP", "VIP", "same", 2, "100", "105"),
        row("segment", "Leaving", None, "gone", 1, "5", "0"),
        row("segment", None, "VIP", "new", 1, "0", "7"),
        row("segment", "Sleeping", "Sleeping", "same", 1, "1", "2"),
    ], MIGRATIONS.ddl(MIGRATIONS.layout()[:-2]))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_runs_without_common_customers(spark):
    before = customers(spark, [("x", "111", "VIP", "A", "1")])
    after = customers(spark, [("y", "111", "VIP", "A", "2")])
    got = {(r.from_value, r.to_value, r.change, r.customers)
           for r in transitions(before, after, A, B, levels=("group",)).collect()}
    assert got == {("A", None, "gone", 1), (None, "A", "new", 1)}
