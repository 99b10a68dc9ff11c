import pytest

from rfm_spark.config import SegmentRule
from rfm_spark.rules import RuleError, check_coverage, code_table, expand

THREE_BY_THREE = (3, 3, 3)


def test_expand_digits_alternatives_ranges_and_wildcards():
    assert expand("111", THREE_BY_THREE) == ["111"]
    assert expand("1(2,3)1", THREE_BY_THREE) == ["121", "131"]
    assert expand("(1-2)1*", THREE_BY_THREE) == ["111", "112", "113", "211", "212", "213"]
    assert expand("4(1,2)(1-3)", (4, 3, 3)) == ["411", "412", "413", "421", "422", "423"]


@pytest.mark.parametrize("pattern", ["11", "1111", "4**", "1(0-2)1", "1(a)1", "1x1", "(3-1)11"])
def test_bad_patterns_are_rejected(pattern):
    with pytest.raises(RuleError, match="pattern"):
        expand(pattern, THREE_BY_THREE)


def test_coverage_lists_uncovered_and_doubly_covered_codes():
    rules = [SegmentRule("best", "g", ["111"]), SegmentRule("recent", "g", ["1**"]),
             SegmentRule("rest", "g", ["(2-3)(1-3)(1-2)"])]
    with pytest.raises(RuleError) as error:
        check_coverage(rules, THREE_BY_THREE)
    message = str(error.value)
    assert "covered by no segment: 213, 223, 233, 313, 323, 333" in message
    assert "more than one segment: 111 (best / recent)" in message


def test_code_table_maps_every_code_to_its_rule():
    rules = [SegmentRule("recent", "A", ["1**"]), SegmentRule("older", "B", ["(2,3)**"])]
    table = code_table(rules, THREE_BY_THREE)
    assert len(table) == 27
    assert table["133"].name == "recent" and table["311"].group == "B"
