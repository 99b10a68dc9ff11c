import pytest

from rfm_spark.config import GroupRule, SegmentRule, TagRule
from rfm_spark.rules import RuleError, code_table, expand, where_pattern

THREE_BY_THREE = (3, 3, 3)
METRICS = ("recency", "frequency", "monetary")


def table(segments, groups=(), tags=(), counts=THREE_BY_THREE, metrics=METRICS):
    return code_table(segments, groups, tags, counts, metrics)


def test_expand_digits_alternatives_ranges_and_wildcards():
    assert expand("111", THREE_BY_THREE) == ["111"]
    assert expand("1(2,3)1", THREE_BY_THREE) == ["121", "131"]
    assert expand("(1-2)1*", THREE_BY_THREE) == ["111", "112", "113", "211", "212", "213"]
    assert expand("4(1,2)(1-3)", (4, 3, 3)) == ["411", "412", "413", "421", "422", "423"]
    # Four metrics (R F M A), the notation of source 001.
    assert expand("41(1,2)(1-3)", (4, 3, 3, 3)) == [
        "4111", "4112", "4113", "4121", "4122", "4123"]


@pytest.mark.parametrize("pattern", ["11", "1111", "4**", "1(0-2)1", "1(a)1", "1x1", "(3-1)11"])
def test_bad_patterns_are_rejected(pattern):
    with pytest.raises(RuleError, match="pattern"):
        expand(pattern, THREE_BY_THREE)


def test_per_metric_ranges_are_patterns():
    assert where_pattern({"recency": 1, "frequency": "1-2", "monetary": [1, 3]},
                         METRICS) == "1(1-2)(1,3)"
    assert where_pattern({"monetary": "(2,3)"}, METRICS) == "**(2,3)"
    with pytest.raises(RuleError, match="age is not a graded metric"):
        where_pattern({"age": 1}, METRICS)


def test_coverage_lists_uncovered_and_doubly_covered_codes():
    rules = [SegmentRule("best", ("111",), group="g"), SegmentRule("recent", ("1**",), group="g"),
             SegmentRule("rest", ("(2-3)(1-3)(1-2)",), group="g")]
    with pytest.raises(RuleError) as error:
        table(rules)
    message = str(error.value)
    assert message.startswith("segments: ")
    assert "codes covered by no segment: 213, 223, 233, 313, 323, 333" in message
    assert "covered by more than one segment: 111 (best / recent)" in message


def test_code_table_maps_every_code_to_every_level():
    rules = [SegmentRule("recent", ("1**",), group="A", id="1", action="mail"),
             SegmentRule("older", where={"recency": "2-3"}, group="B")]
    groups = [GroupRule("A", id="10", attributes={"warmth": 1, "label": "hot"}),
              GroupRule("B", attributes={"label": "cold", "warmth": 5})]
    tags = [TagRule("big", ("**1",)), TagRule("best", ("111",))]
    codes = table(rules, groups, tags)
    assert len(codes) == 27
    assert (codes["133"].segment, codes["133"].segment_id, codes["133"].segment_action,
            codes["133"].group, codes["133"].group_id) == ("recent", "1", "mail", "A", "10")
    assert codes["311"].group == "B" and codes["311"].attributes == {"label": "cold", "warmth": 5}
    assert codes["111"].tags == ("big", "best") and codes["311"].tags == ("big",)
    assert codes["222"].tags == ()


def test_groups_by_codes_when_the_segment_is_the_code():
    groups = [GroupRule("recent", ("1**",)), GroupRule("older", ("(2,3)**",))]
    codes = table(None, groups)
    assert (codes["123"].segment, codes["123"].group) == ("123", "recent")
    with pytest.raises(RuleError, match=r"^groups: codes covered by no group: 311, 312"):
        table(None, groups[:1] + [GroupRule("mid", ("2**",))])


@pytest.mark.parametrize("segments, groups, message", [
    ([SegmentRule("a", ("***",))], [], "no group given for a"),
    ([SegmentRule("a", ("***",), group="A")], [GroupRule("A", ("1**",))], "list codes"),
    ([SegmentRule("a", ("***",), group="A")], [GroupRule("Z")], "no segment belongs to Z"),
    ([SegmentRule("a", ("1**",), group="A"), SegmentRule("b", ("(2,3)**",), group="B")],
     [GroupRule("A")], "missing B"),
    ([SegmentRule("a", ("***",), group="A")], [GroupRule("A", attributes={"group": 1})],
     "not a column name"),
    ([SegmentRule("a", ("1**",), group="A"), SegmentRule("a", ("(2,3)**",), group="A")], [],
     "segment names must be unique: a"),
])
def test_level_mistakes_are_named(segments, groups, message):
    with pytest.raises(RuleError, match=message):
        table(segments, groups)
