"""What every job shares: exit codes by error type, the checks made once Spark is up."""
import logging

import pytest

from conftest import REPO
from rfm_spark import cli
from rfm_spark.config import load_config
from rfm_spark.errors import ConfigError, InputError
from rfm_spark.jobs import segment


@pytest.mark.parametrize("error, code", [(ConfigError("bad key"), 2), (InputError("no rows"), 1)])
def test_a_users_error_is_one_line_and_its_exit_code(error, code, caplog):
    def job():
        raise error
    assert cli.run(job) == code
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [str(error)]


def test_anything_else_is_a_bug_with_its_traceback():
    # PySpark's own ValueErrors are no user's error either (they once were, as ValueError).
    from pyspark.errors import PySparkValueError

    def job():
        raise PySparkValueError("a bug", errorClass=None)
    with pytest.raises(PySparkValueError):
        cli.run(job)


@pytest.mark.parametrize("pattern", [r"\p{L}+\d*", r"2\d{12}", r"[\p{IsCyrillic}A-Z]+"])
def test_java_patterns_that_spark_runs_are_accepted(spark, pattern):
    config = load_config([REPO / "conf/default.yaml"], [f"clean.customer_id_pattern={pattern}"])
    cli.check_with_spark(spark, config)


@pytest.mark.parametrize("pattern", [r"(?P<card>\d+)", r"(2000"])
def test_patterns_spark_cannot_run_are_a_config_error(spark, pattern):
    config = load_config([REPO / "conf/default.yaml"], [f"clean.customer_id_pattern={pattern}"])
    with pytest.raises(ConfigError, match=r"'clean.customer_id_pattern' is not a regular "
                                          r"expression Spark \(Java\) can run"):
        cli.check_with_spark(spark, config)


@pytest.mark.e2e
def test_a_lakehouse_that_is_a_file_stops_before_any_work(spark, golden, tmp_path, caplog):
    (tmp_path / "lake").write_text("not a folder")
    code = segment.main(["--config", str(REPO / "conf/default.yaml"), "--input", golden,
                         "--lakehouse", str(tmp_path / "lake")])
    assert code == 2
    assert f"{tmp_path / 'lake'}: is a file, not a lakehouse folder" in caplog.text
    assert "clean + aggregate" not in caplog.text  # nothing was computed
