"""The statistics of a campaign against published or hand-computed values."""
import math

import pytest

from rfm_spark.campaigns import stats
from rfm_spark.campaigns.stats import Arms


@pytest.mark.parametrize("arms, low, high", [
    # Newcombe (1998), Table II, method 10: (a) 56/70 - 48/80, (b) 9/10 - 3/10,
    # (c) 6/7 - 2/7, (d) 5/56 - 0/29 (a zero count).
    (Arms(70, 80, 56, 48), 0.0524, 0.3339),
    (Arms(10, 10, 9, 3), 0.1705, 0.8090),
    (Arms(7, 7, 6, 2), 0.0582, 0.8062),
    (Arms(56, 29, 5, 0), -0.0381, 0.1926),
])
def test_newcombe_hybrid_score_interval_matches_newcombes_table(arms, low, high):
    assert stats.newcombe(arms) == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_by_hand():
    # 56/70: p = 0.8, z^2 = 3.8415; centre = (0.8 + 3.8415/140) / (1 + 3.8415/70)
    z2 = stats.Z_95 ** 2
    centre = (0.8 + z2 / 140) / (1 + z2 / 70)
    half = stats.Z_95 * math.sqrt(0.8 * 0.2 / 70 + z2 / (4 * 70 ** 2)) / (1 + z2 / 70)
    assert stats.wilson(56, 70) == pytest.approx((centre - half, centre + half))
    assert stats.wilson(0, 29)[0] == 0.0


def test_pooled_z_test_by_hand():
    # 56/70 vs 48/80: pooled 104/150, se = sqrt(p(1-p)(1/70 + 1/80)), z = 0.2 / se
    pooled = 104 / 150
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    p, test_name = stats.p_value(Arms(70, 80, 56, 48))
    assert test_name == "z"
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert p == pytest.approx(0.00805, abs=1e-5)


def test_fisher_when_an_expected_count_is_below_five():
    # Fisher's tea tasting: 3 of 4 right either way, two-sided p = 17/35.
    p, test_name = stats.p_value(Arms(4, 4, 3, 1))
    assert (test_name, p) == ("fisher", pytest.approx(17 / 35))
    # Expected responders 200 x 5/400 = 2.5 < 5: Fisher, though the arms are large.
    assert stats.p_value(Arms(200, 200, 4, 1))[1] == "fisher"
    # Exactly 5 expected in the smallest cell: the z-test.
    assert stats.p_value(Arms(100, 100, 6, 4))[1] == "z"


def test_holm_adjustment_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, max(0.06, 1 x 0.04); back in order
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_mde_at_the_pooled_rate():
    # pooled 0.1, n = 1000 each: (1.95996 + 0.84162) x sqrt(0.09 x 0.002) = 0.03759
    assert stats.mde(Arms(1000, 1000, 110, 90)) == pytest.approx(0.037587, abs=1e-6)


def test_sample_ratio_check():
    assert stats.srm_p_value(Arms(500, 500, 0, 0), 0.5) == pytest.approx(1.0)
    # 450 control, 550 test at 50%: chi2 = 2 x 50^2 / 500 = 10, p = 0.00157
    assert stats.srm_p_value(Arms(550, 450, 0, 0), 0.5) == pytest.approx(0.0015654, abs=1e-6)


def test_post_stratified_lift_weights_cells_by_their_members():
    cells = [Arms(50, 50, 10, 5), Arms(150, 150, 15, 15), Arms(3, 0, 1, 0)]  # last: no control
    result = stats.post_stratified(cells)
    # weights 100/400 and 300/400; lifts 0.1 and 0
    assert result.lift == pytest.approx(0.025)
    variance = (0.25 ** 2 * (0.2 * 0.8 / 50 + 0.1 * 0.9 / 50)
                + 0.75 ** 2 * (0.1 * 0.9 / 150 + 0.1 * 0.9 / 150))
    assert result.ci_high - result.lift == pytest.approx(stats.Z_95 * math.sqrt(variance))
    assert result.p_value == pytest.approx(math.erfc(0.025 / math.sqrt(variance) / math.sqrt(2)))
