"""Churn end to end through the job: generated H&M-shaped data with a planted churn
driver (online-only customers stop, store-only ones stay), a run, `rfm-churn`, both
tables, the notebook; and the bad inputs that stop it before anything is written."""
import runpy
from types import SimpleNamespace

import pytest
from pyspark.ml import PipelineModel
from pyspark.sql import functions as F

from conftest import HM_CONFIGS as CONFIGS, REPO, plotly_page, run_job as job
from rfm_spark.jobs import churn
from rfm_spark.lakehouse import read_table, stored
from rfm_spark.tables import CHURN_MODELS, CHURN_SCORES

pytestmark = pytest.mark.e2e
QUICK = ["--set", "churn.observations=3"]


@pytest.fixture(scope="module")
def lake(hm_run):
    return hm_run


@pytest.fixture(scope="module")
def trained(spark, lake):
    code, printed = job(churn.main, *CONFIGS, "--input", lake.data, "--lakehouse", lake.root,
                        "--run-id", lake.run_id, *QUICK)
    assert code == 0, printed
    record = read_table(spark, lake.lakehouse, "rfm_churn_models").first().asDict(recursive=True)
    return SimpleNamespace(printed=printed, record=record)


@pytest.mark.connect
def test_the_gbt_beats_both_baselines_on_the_time_holdout(trained):
    metrics = trained.record["metrics"]
    gbt = metrics["gbt"]["roc_auc"]
    assert gbt > metrics["bgnbd"]["roc_auc"] + 0.05
    assert gbt > metrics["segment_rate"]["roc_auc"] + 0.05
    # Every model and baseline has both curves, for the report's charts to compare.
    assert set(trained.record["calibration"]) == set(trained.record["roc"]) == set(metrics)
    calibrated = metrics["calibrated"]
    assert calibrated["mean_predicted"] == pytest.approx(calibrated["observed_rate"], abs=0.01)
    assert "churn x value grid" in trained.printed


def test_the_gbt_ranks_the_planted_feature_first(trained):
    ranked = sorted(trained.record["feature_importances"]["gbt"].items(),
                    key=lambda item: -item[1])
    assert ranked[0][0].startswith("channel_share_"), ranked[:5]


def test_scores_cover_the_run_and_tables_hold_their_declared_columns(spark, lake, trained):
    record = trained.record
    assert record["observation_dates"][-1] < record["as_of_date"]
    assert len(record["observation_dates"]) == 3 and record["time_unit_days"] == 7
    scores = read_table(spark, lake.lakehouse, "rfm_churn_scores")
    customers = read_table(spark, lake.lakehouse, "rfm_customers")
    assert scores.count() == customers.count()
    assert scores.join(customers, "customer_id", "left_anti").count() == 0
    for table in (CHURN_MODELS, CHURN_SCORES):
        written = stored(spark, lake.lakehouse, table.name)
        assert [(f.name, f.dataType.simpleString()) for f in written.schema.fields] == list(
            table.layout())
    bad = scores.where(F.col("churn_probability").isNull() | (F.col("churn_probability") < 0)
                       | (F.col("churn_probability") > 1) | F.col("churn_segment").isNull())
    assert bad.count() == 0
    at_risk = scores.where(F.col("churn_segment") == "Valuable, at risk").first()
    assert (at_risk.churn_band, at_risk.value_band, at_risk.action) == ("high", "high",
                                                                         "personal offer")
    model = PipelineModel.load(record["model_path"])
    assert len(model.stages) == 2


def test_the_churn_notebook_renders_locally(spark, lake, trained, monkeypatch, tmp_path,
                                            capsys):
    monkeypatch.chdir(REPO / "notebooks")
    for name, value in {"LAKEHOUSE": lake.root, "RUN_ID": lake.run_id, "TRAIN": "false",
                        "REPORT_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(f"RFM_{name}", value)
    namespace = runpy.run_path(str(REPO / "notebooks" / "05_churn.py"))
    assert namespace["record"]["model_id"] == trained.record["model_id"]
    printed = capsys.readouterr().out
    assert "Valuable, at risk" in printed and "segment_rate" in printed
    assert "Calibration on the validation date" in plotly_page(tmp_path / "churn_curves.html", 2)
    for chart in ("churn_importances", "churn_grid"):
        plotly_page(tmp_path / f"{chart}.html", 1)


LATE = "t_dat,customer_id,article_id,price,sales_channel_id\n2020-10-01,c1,1,0.5,1\n"


@pytest.mark.parametrize("arguments, code, message", [
    (["--run-id", "nope"], 2, "no succeeded run 'nope'"),
    (["--set", "churn.horizon_days=900"], 1, "is too short for a 900-day horizon"),
    (["--set", "churn.min_class_rows=1000000"], 1, "too few rows to train on"),
    # Transactions that all come after the run's as-of date.
    (["--input", "LATE"], 1, "no used purchase on or before the run's as-of date"),
])
def test_bad_input_stops_before_anything_is_written(spark, lake, trained, tmp_path, caplog,
                                                    arguments, code, message):
    (tmp_path / "late.csv").write_text(LATE)
    arguments = [str(tmp_path / "late.csv") if a == "LATE" else a for a in arguments]
    argv = [*CONFIGS, "--input", lake.data, "--lakehouse", lake.root, *QUICK]
    if "--run-id" not in arguments:
        argv += ["--run-id", lake.run_id]
    before = [stored(spark, lake.lakehouse, t.name).count() for t in (CHURN_MODELS, CHURN_SCORES)]
    assert job(churn.main, *argv, *arguments)[0] == code
    assert message in caplog.text
    assert [stored(spark, lake.lakehouse, t.name).count()
            for t in (CHURN_MODELS, CHURN_SCORES)] == before
