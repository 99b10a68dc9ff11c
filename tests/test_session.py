from rfm_spark.session import get_spark


def test_an_active_session_is_reused_as_it_is(spark):
    """On Databricks and in notebooks the job must not build or reconfigure a session."""
    assert get_spark("another name") is spark
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
