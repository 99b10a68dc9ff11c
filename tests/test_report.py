from rfm_spark.report import segment_report


def test_segment_report_adds_codes_up_per_segment_by_group(spark):
    segments = spark.createDataFrame(
        [("111", "VIP", "Active", 3, 0.3, 0.6), ("112", "Loyal", "Active", 1, 0.1, 0.1),
         ("113", "Loyal", "Active", 2, 0.2, 0.1), ("311", "Gone", "Leaving", 4, 0.4, 0.2),
         ("312", "Gone", "Leaving", 0, 0.0, None)],
        "segment_code string, segment string, group string, customers long, share double, "
        "monetary_share double")
    lines = segment_report(segments).splitlines()
    assert lines[0].split() == ["group", "segment", "customers", "share", "money"]
    assert [line.split() for line in lines[1:]] == [
        ["Active", "Loyal", "3", "30.0%", "20.0%"],
        ["Active", "VIP", "3", "30.0%", "60.0%"],
        ["Leaving", "Gone", "4", "40.0%", "20.0%"],
    ]
