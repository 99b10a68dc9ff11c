"""Each preset on a small fixture whose grades, codes and names were worked out by hand
from the source document's rules (../shared/seeds/), boundary values included."""
import datetime as dt
from decimal import Decimal

import pytest

from conftest import REPO, write_yaml
from rfm_spark import load_config, run_segmentation
from rfm_spark.config import ConfigError

AS_OF = dt.date(2024, 6, 30)
SCHEMA = "customer_id string, t_dat string, price string"


def preset(*names):
    return [REPO / "conf/default.yaml", *[REPO / f"conf/presets/{n}.yaml" for n in names]]


def purchases(customer, days_ago, amounts):
    """One row per (days before AS_OF, amount)."""
    return [(customer, (AS_OF - dt.timedelta(days=d)).isoformat(), str(a))
            for d, a in zip(days_ago, amounts)]


def once(total, n):
    """n amounts adding up to `total` exactly: the total, then zeros."""
    return [total] + [0] * (n - 1)


def segment(spark, files, rows, *overrides):
    config = load_config(files, [f"metrics.as_of={AS_OF}", *overrides])
    result = run_segmentation(spark, config, spark.createDataFrame(rows, SCHEMA), write=False)
    return result, {r.customer_id: r for r in result.customers.collect()}


# Source 001. R: D<=21 -> 1, <=61 -> 2, <=105 -> 3, else 4. F (rate, orders per 21 days over
# the activity period): >=0.96 -> 1, (0.2, 0.96) -> 2, <=0.2 -> 3. M (average cheque):
# >1293 -> 1, >504 -> 2, else 3. A (tenure): >180 -> 1, >30 -> 2, else 3.
PHARMACY = [
    # id, purchases (days ago), amounts, rate, code, cluster id, cluster, region id, warmth
    # first purchase 21 days ago: one interval, rate 1/1; R = 21 is still 1; M = 1293 is 2.
    ("p01", [21], [1293], "1.00000000", "1123", "14", "добро пожаловать", "220", 2),
    # activity = 200 days (capped at the as-of date): 2 * 21 / 200 = 0.21.
    ("p02", [200, 22], [600, 700], "0.21000000", "2221", "22", "спящий середняк", "210", 2),
    # one purchase 105 days ago: activity 105 days, 21 / 105 = 0.2 exactly -> F 3; R = 105 -> 3.
    ("p03", [105], [504], "0.20000000", "3332", "33", "давний случайный гость", "510", 5),
    # 8 orders over 175 days: 8 * 21 / 175 = 0.96 exactly -> F 1; R = 61 -> 2; M 1293.01 -> 1.
    ("p04", [175, 165, 155, 145, 135, 125, 115, 61], ["1293.01"] * 8, "0.96000000", "2112",
     "21", "спящий VIP", "110", 1),
    # R = 106 -> 4; activity until last + 105 = 1 day before the as-of date: 105 days -> 0.2.
    ("p05", [106], ["504.01"], "0.20000000", "4322", "43", "ушедший случайный гость", "510", 5),
    # R = 62 -> 3; A = 181 -> 1; 2 * 21 / 181 = 0.23204420 (rounded).
    ("p06", [181, 62], [100, 2000], "0.23204420", "3221", "32", "давний середняк", "320", 3),
    # A = 30 -> 3 (новичок); 21 / 30 = 0.7.
    ("p07", [30], [504], "0.70000000", "2233", "24", "спящий добро пожаловать", "220", 2),
    # A = 31 -> 2.
    ("p08", [31], [100], "0.67741935", "2232", "22", "спящий середняк", "210", 2),
    # A = 180 -> 2; M = (5000 + 10) / 2 = 2505 -> 1.
    ("p09", [180, 0], [5000, 10], "0.23333333", "1212", "11", "VIP", "110", 1),
    # first purchase 10 days ago: one interval, rate 2.
    ("p10", [10, 5], [100, 100], "2.00000000", "1133", "14", "добро пожаловать", "220", 2),
    # last + 105 days is 195 days ago: activity 400 - 195 = 205 days, 42 / 205 = 0.20487805.
    ("p11", [400, 300], [2000, 2000], "0.20487805", "4211", "41", "ушедший VIP", "410", 4),
]


def test_pharmacy_rfma_reproduces_source_001(spark):
    rows = [row for cid, days, amounts, *_ in PHARMACY for row in purchases(cid, days, amounts)]
    result, got = segment(spark, preset("pharmacy_rfma"), rows)
    for cid, _, _, rate, code, cluster_id, cluster, region_id, warmth in PHARMACY:
        r = got[cid]
        assert (r.frequency_rate, r.segment_code, r.segment_id, r.segment, r.group_id,
                r.warmth) == (Decimal(rate), code, cluster_id, cluster, region_id, warmth), cid
    assert got["p04"].group == "VIP" and got["p02"].group == "середняк"
    cuts = {r.metric: (r.method, r.cut_points, r.closed) for r in result.thresholds.collect()}
    assert cuts["recency"] == ("thresholds", [21.0, 61.0, 105.0], "right")
    assert cuts["frequency"] == ("thresholds", [0.2, 0.96], "right,left")
    assert cuts["age"] == ("thresholds", [30.0, 180.0], "right")


def test_pharmacy_churn_period_from_the_data_is_a_recency_cut(spark):
    # Gaps between consecutive purchase days: 10, 20, 30, 41, 100 (a same-day repeat is no
    # gap). 95th percentile: rank 0.95 * 4 = 3.8 -> 41 + 0.8 * 59 = 88.2 -> 89 days.
    rows = (purchases("g1", [200, 190, 170], [10, 10, 10]) + purchases("g2", [150, 120], [10, 10])
            + purchases("g3", [141, 100, 100], [10, 10, 10]) + purchases("g4", [100, 0], [10, 10]))
    result, _ = segment(spark, preset("pharmacy_rfma"), rows,
                        "metrics.churn_period={percentile: 95}")
    cuts = {r.metric: r.cut_points for r in result.thresholds.collect()}
    assert cuts["recency"] == [21.0, 61.0, 89.0]


# Source 002. R: <=30 -> 1, <=100 -> 2, <=365 -> 3, else 4. F (rows): <=3 -> 4, <=9 -> 3,
# <=26 -> 2, else 1. M (sum) by IQR: sums 1 2 6 10 12 14 18 100; Q1 at rank 1.75 = 2 + 0.75 * 4
# = 5; Q3 at rank 5.25 = 14 + 0.25 * 4 = 15; whisker 15 + 1.5 * 10 = 30.
HM = [
    # id, recency, rows, sum, code, group
    ("h1", 30, 3, 1, "144", "Активные мелкие клиенты"),
    ("h2", 31, 4, 2, "234", "Активные мелкие клиенты"),
    ("h3", 100, 9, 6, "233", "Активные мелкие клиенты"),
    ("h4", 101, 10, 10, "323", "Спящие средние клиенты"),
    ("h5", 365, 26, 12, "323", "Спящие средние клиенты"),
    ("h6", 366, 27, 14, "413", "Уходящие средние клиенты"),
    # 142 and 441 are missing from 002's lists: 142 joins 132's group, 441 joins 431's.
    ("h7", 0, 1, 18, "142", "Средние постоянные клиенты"),
    ("h8", 400, 2, 100, "441", "Уходящие VIP-клиенты"),
]


def test_hm_groups_reproduces_source_002(spark):
    rows = [row for cid, recency, n, total, *_ in HM
            for row in purchases(cid, [recency] * n, once(total, n))]
    result, got = segment(spark, preset("hm_groups"), rows)
    assert {cid: (got[cid].segment_code, got[cid].segment, got[cid].group) for cid, *_ in HM} == {
        cid: (code, code, group) for cid, _, _, _, code, group in HM}
    cuts = {r.metric: (r.method, r.cut_points) for r in result.thresholds.collect()}
    assert cuts["monetary"] == ("iqr", [5.0, 15.0, 30.0])


def test_hm_groups_original_lists_leave_exactly_ten_codes_uncovered(tmp_path):
    # 002's ten groups exactly as it lists them.
    lists = [["444", "434", "443", "433", "424"], ["423", "442", "432", "422", "413"],
             ["421", "411", "431", "412"], ["344", "343", "334", "324", "333"],
             ["323", "322", "313", "332", "342"], ["311", "331", "312", "321"],
             ["244", "144", "234", "143", "134", "243", "124", "224", "233", "133"],
             ["123", "113", "213", "223", "222", "232", "132"], ["212", "112", "122"],
             ["111", "211", "121", "221", "131", "231"]]
    original = write_yaml(tmp_path / "002.yaml", "groups:\n" + "".join(
        f"  - {{name: g{i}, codes: {codes}}}\n" for i, codes in enumerate(lists, 1)))
    with pytest.raises(ConfigError) as error:
        load_config(preset("hm_groups") + [original])
    assert str(error.value).endswith(
        "groups: codes covered by no group: 114, 141, 142, 214, 241, 242, 314, 341, 414, 441")


# Source 003, 4 = best, cut points at the 25th/50th/75th percentiles (linear interpolation,
# as pandas), a value equal to a cut in the lower bin. Eight customers, ranks 1.75/3.5/5.25:
# R 0 1 5 9 10 20 40 100 -> cuts 4, 9.5, 25 (R <= 4 -> 4 ... > 25 -> 1);
# F (orders = days) 1 1 1 2 2 3 5 8 -> cuts 1, 2, 3.5; M 10 20 ... 80 -> 27.5, 45, 62.5.
RETAIL = [
    # id, recency, orders, sum, code, tags, group, score = .3 R + .3 F + .4 M
    ("o1", 0, 8, 80, "444", ["Best Customers", "Loyal Customers", "Big Spenders"],
     "Best Customers", "4.0"),
    ("o2", 40, 5, 70, "144", ["Loyal Customers", "Big Spenders", "Lost Customers"],
     "Lost Customers", "3.1"),
    ("o3", 100, 1, 10, "111", ["Lost Cheap Customers"], "Lost Cheap Customers", "1.0"),
    ("o4", 1, 1, 20, "411", [], "Other", "1.9"),
    ("o5", 5, 2, 30, "322", [], "Other", "2.3"),
    ("o6", 9, 3, 50, "333", [], "Other", "3.0"),
    ("o7", 10, 2, 60, "223", [], "Other", "2.4"),
    ("o8", 20, 1, 40, "212", [], "Other", "1.7"),
]


def test_online_retail_reproduces_source_003(spark):
    rows = [row for cid, recency, n, total, *_ in RETAIL
            for row in purchases(cid, range(recency, recency + n), once(total, n))]
    result, got = segment(spark, preset("online_retail"), rows)
    for cid, _, _, _, code, tags, group, score in RETAIL:
        r = got[cid]
        assert (r.segment_code, r.tags, r.group, r.score) == (code, tags, group,
                                                              Decimal(score)), cid
    cuts = {r.metric: r.cut_points for r in result.thresholds.collect()}
    assert cuts == {"recency": [4.0, 9.5, 25.0], "frequency": [1.0, 2.0, 3.5],
                    "monetary": [27.5, 45.0, 62.5]}


def test_classic_quintiles_five_is_best(spark):
    # Five distinct values per metric: grade = 5 - (customers strictly better).
    rows = []
    for cid, recency, days, total in [("k1", 1, 1, 200), ("k2", 2, 5, 500), ("k3", 3, 2, 100),
                                      ("k4", 4, 4, 400), ("k5", 5, 3, 300)]:
        rows += purchases(cid, range(recency, recency + days), once(total, days))
    _, got = segment(spark, preset("classic"), rows)
    assert {c: (r.segment_code, r.segment, r.group) for c, r in got.items()} == {
        "k1": ("512", "New Customers", "Active"), "k2": ("455", "Champions", "Active"),
        "k3": ("321", "About To Sleep", "Slipping"), "k4": ("244", "At Risk", "At risk"),
        "k5": ("133", "At Risk", "At risk")}


def test_sms27_names_groups_and_actions(spark):
    # Three distinct values: tertile grades 1, 2, 3 (1 = best).
    rows = (purchases("s1", [0, 1, 2], [100, 100, 100]) + purchases("s2", [5], [200])
            + purchases("s3", [10, 11], [50, 50]))
    result, got = segment(spark, preset("sms27"), rows)
    assert {c: (r.segment_code, r.segment, r.group) for c, r in got.items()} == {
        "s1": ("111", "VIP", "Постоянные"),
        "s2": ("232", "Спящие разовые со средним чеком", "Спящие"),  # name left blank in 000
        "s3": ("323", "Уходящие редкие", "Уходящие")}
    actions = {r.segment_code: r.segment_action for r in result.segments.collect()}
    assert actions["111"].startswith("Отправляем им особые предложения")
    # A blank action continues the one above it in 000's table (merged cells).
    assert actions["232"] == actions["233"] and actions["233"].startswith(
        "Эти клиенты ещё помнят о нас")
    assert actions["322"] == actions["323"] and actions["312"] == actions["313"]


def test_sms27_fixed_frequency_bins(spark):
    # 000's bins: 1 / 2 / 3-4 / 5-15 / >15 purchases -> F grades 5 / 4 / 3 / 2 / 1.
    counts = {"f01": 1, "f02": 2, "f03": 3, "f04": 4, "f05": 5, "f15": 15, "f16": 16}
    rows = [row for cid, n in counts.items() for row in purchases(cid, range(n), [10] * n)]
    _, got = segment(spark, preset("sms27", "sms27_fixed_frequency"), rows)
    assert {c: got[c].f_grade for c in counts} == {
        "f01": 5, "f02": 4, "f03": 3, "f04": 3, "f05": 2, "f15": 2, "f16": 1}
    # All bought today (R 1); M tertiles of 10 20 30 40 50 150 160: 10, 20 -> 3.
    assert got["f16"].segment == "VIP" and got["f02"].segment_code == "143"
    assert got["f02"].segment == "Постоянные с маленьким чеком"
