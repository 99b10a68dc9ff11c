import hashlib
import hmac

import pytest

from rfm_spark.errors import ConfigError
from rfm_spark.pseudonymise import key_from_environment, pseudonymise


def expected(key, customer_id):
    return hmac.new(key, customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def test_hmac_matches_the_standard_library_for_short_and_long_keys(spark):
    ids = ["00042", "Ünïcødé-ид", "17850", "x" * 200]
    frame = spark.createDataFrame([(i,) for i in ids] + [(None,), ("  ",)], "customer_id string")
    for key in (b"secret", b"k" * 100):  # a key longer than the block is hashed first
        got = [r.customer_id for r in pseudonymise(frame, key).collect()]
        assert got == [expected(key, i) for i in ids] + [None, "  "]


def test_stable_for_a_key_different_for_another_and_the_key_stays_out_of_plans(spark):
    frame = spark.createDataFrame([("c1",), ("c2",)], "customer_id string")
    first = pseudonymise(frame, b"key-one")
    again = [r.customer_id for r in pseudonymise(frame, b"key-one").collect()]
    other = [r.customer_id for r in pseudonymise(frame, b"key-two").collect()]
    assert [r.customer_id for r in first.collect()] == again
    assert set(again).isdisjoint(other)
    plan = first._jdf.queryExecution().toString()
    pad = bytes(b ^ 0x36 for b in b"key-one")
    assert "key-one" not in plan
    assert pad.hex() not in plan.lower().replace(" ", "").replace(",", "")


def test_the_key_comes_from_the_environment_only(monkeypatch):
    monkeypatch.delenv("RFM_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="environment variable RFM_TEST_KEY is not set"):
        key_from_environment("RFM_TEST_KEY")
    monkeypatch.setenv("RFM_TEST_KEY", "s3cret")
    assert key_from_environment("RFM_TEST_KEY") == b"s3cret"


def test_a_pseudonymised_run_holds_only_keyed_hashes(spark, golden, monkeypatch):
    # The golden fixture's customers (tests/test_pipeline.py), their ids hashed.
    from conftest import REPO
    from rfm_spark import load_config, run_segmentation
    from test_pipeline import EXPECTED
    monkeypatch.setenv("RFM_TEST_KEY", "s3cret")
    config = load_config([REPO / "conf/default.yaml"],
                         ["input.pseudonymise={enabled: true, key_variable: RFM_TEST_KEY}"])
    result = run_segmentation(spark, config, golden, write=False)
    assert {r.customer_id: r.segment_code for r in result.customers.collect()} == {
        expected(b"s3cret", cid): code for cid, *_, code, _, _ in EXPECTED}
    assert result.dropped_by_reason == {"bad_date": 1, "missing_customer_id": 1}
    # The quarantine shows the hash, and no raw text (which may hold an id anywhere).
    bad_date = result.rejects.where("reason = 'bad_date'").first()
    assert (bad_date.customer_id, bad_date.raw) == (expected(b"s3cret", "c02"), None)


@pytest.mark.e2e
def test_the_job_refuses_to_start_without_the_key(tmp_path, monkeypatch, caplog):

    from conftest import REPO
    from rfm_spark.jobs import segment
    monkeypatch.delenv("RFM_PSEUDONYMISATION_KEY", raising=False)
    code = segment.main(["--config", str(REPO / "conf/default.yaml"), "--input", "x.csv",
                         "--dry-run", "--set", "input.pseudonymise.enabled=true"])
    assert code == 2
    assert "environment variable RFM_PSEUDONYMISATION_KEY is not set" in caplog.text


class Secrets:
    """Databricks' `dbutils.secrets` as a job sees it: a scope, a key, a value."""

    def __init__(self, values):
        self.values = values

    def get(self, scope, key):
        return self.values[(scope, key)]


def test_the_key_can_come_from_a_databricks_secret(monkeypatch):
    from types import SimpleNamespace

    from conftest import REPO
    from rfm_spark import load_config
    from rfm_spark.pseudonymise import pseudonymisation_key
    monkeypatch.delenv("RFM_PSEUDONYMISATION_KEY", raising=False)
    config = load_config([REPO / "conf/default.yaml"], [
        "input.pseudonymise={enabled: true, key_secret: {scope: rfm, key: pseudonyms}}"])
    settings = config.input.pseudonymise
    dbutils = SimpleNamespace(secrets=Secrets({("rfm", "pseudonyms"): "s3cret"}))
    assert pseudonymisation_key(settings, dbutils) == b"s3cret"
    # Outside Databricks there is no secret to read: said clearly, naming it.
    with pytest.raises(ConfigError, match=r"names the Databricks secret rfm/pseudonyms, but "
                                          r"this is not Databricks"):
        pseudonymisation_key(settings)


@pytest.mark.e2e
@pytest.mark.slow
def test_no_raw_id_reaches_any_file_or_log_of_the_lakehouse(spark, spark_submitted):
    """A malformed line shifts the id into another column; a well-formed one holds it in
    its own (conftest's LEAKY). With pseudonymisation on, neither id may be found in any
    file the run wrote (tables, Delta's log and statistics) nor in what the jobs logged
    under spark-submit (Spark's and Delta's INFO log included)."""
    from rfm_spark.lakehouse import Lakehouse, read_table
    done, lake = spark_submitted.done, spark_submitted.root / "lake" / "private"
    logged = done.stdout + done.stderr
    assert " INFO " in logged  # Spark's and Delta's INFO log, as spark-submit logs
    [run] = read_table(spark, Lakehouse(root=str(lake)), "rfm_runs").collect()
    assert run.dropped_by_reason == {"malformed_row": 1, "bad_date": 1}
    written = b"".join(path.read_bytes() for path in lake.rglob("*") if path.is_file())
    assert len(written) > 10_000
    for raw in ("SECRET-ID", "17850"):
        assert raw.encode() not in written, raw
        assert raw not in logged, raw
