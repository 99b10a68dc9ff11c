import datetime as dt
from decimal import Decimal

import pytest

from conftest import REPO, write_yaml
from rfm_spark.config import ConfigError, load_config

DEFAULT = REPO / "conf" / "default.yaml"


def test_default_preset_loads_with_documented_defaults():
    config = load_config([DEFAULT])
    assert config.input.columns.customer_id == "customer_id"
    assert config.input.columns.date == "t_dat"
    assert config.metrics.frequency == "orders"
    assert config.grading.recency.method == "quantile"
    assert len(config.segments) == 14


def test_later_files_override_key_by_key_and_set_wins(tmp_path):
    layer = write_yaml(tmp_path / "layer.yaml", """
        input:
          columns: {amount: amount_eur}
        grading:
          monetary: {method: thresholds, cuts: [10, 100]}
    """)
    config = load_config([DEFAULT, layer], ["metrics.frequency=days", "grading.monetary.cuts=[5, 50]"],
                         {"metrics.as_of": "2020-01-31", "metrics.frequency": "rows"})
    assert config.input.columns.amount == "amount_eur"
    assert config.input.columns.customer_id == "customer_id"  # untouched keys survive
    assert config.grading.monetary.method == "thresholds"
    assert config.grading.monetary.grade_count == 3
    assert config.grading.monetary.cuts == [5.0, 50.0]
    assert config.metrics.frequency == "days"                 # --set beats the flags
    assert config.metrics.as_of == dt.date(2020, 1, 31)


def test_the_config_records_what_it_was_built_from_outside_its_yaml_and_hashes():
    config = load_config([str(DEFAULT), "source:hm"], ["metrics.frequency=days"],
                         {"output.lakehouse": "/tmp/lake"})
    assert config.sources == (str(DEFAULT), "source:hm", "command line",
                              "--set metrics.frequency")
    assert "sources" not in config.to_yaml()
    plain = load_config(["preset:default"])
    assert plain.sources == ("preset:default",)
    assert plain.sha256 == load_config([DEFAULT]).sha256 and plain == load_config([DEFAULT])
    assert plain.with_as_of(dt.date(2020, 1, 31)).sources == ("preset:default",)
    with pytest.raises(ConfigError, match="unknown key 'sources'"):
        load_config([DEFAULT], ["sources=[preset:sms27]"])


def test_unknown_key_names_file_and_key(tmp_path):
    bad = write_yaml(tmp_path / "bad.yaml", """
        grading:
          recency: {metod: quantile}
    """)
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'grading.recency.metod'"):
        load_config([DEFAULT, bad])


def test_unknown_key_in_set_override():
    with pytest.raises(ConfigError, match=r"--set: unknown key 'metrics.frequncy'"):
        load_config([DEFAULT], ["metrics.frequncy=days"])


@pytest.mark.parametrize("override, message", [
    ("metrics.frequency=weekly", r"'metrics.frequency' must be one of rows, orders, days, rate"),
    ("grading.recency.grades=three", r"'grading.recency.grades' must be an integer"),
    ("grading.recency.grades=12", r"'grading.recency.grades' must be between 2 and 9"),
    ("metrics.as_of=2020-02-30", r"'metrics.as_of' must be a date"),
    ("grading.frequency.method=thresholds", r"'grading.frequency.cuts' must list the cut points"),
    ("input.columns.amount=null", r"'input.columns.amount' is required unless"),
    ("input.columns.date=t_dat'); drop", r"not a valid column name"),
    ("clean.countries=[UK]", r"needs input.columns.country"),
    ("output.database=x;y", r"'output.database' must be"),
    ("clean.duplicate_key=[]", r"'clean.duplicate_key' must list at least one source column"),
    ("clean.duplicate_key=[a`b]", r"'clean.duplicate_key' is not a valid column name"),
    ("clean.quarantine=[bad_dates]", r"'clean.quarantine' names unknown reasons \['bad_dates'\]"),
    ("input.order_key=[date, channel]", r"'input.order_key' names channel, which input.columns"),
    ("input.csv.decimal=;", r"'input.csv.decimal' must be one of \., ,"),
    ("quality.max_rejected_share=5", r"'quality.max_rejected_share' must be a share between"),
    ("clean.cancellations=net", r"'clean.cancellations' needs input.columns.order_id or quantity"),
])
def test_bad_values_name_the_key_and_where_it_was_set(override, message):
    with pytest.raises(ConfigError, match=r"^--set: .*" + message):
        load_config([DEFAULT], [override])


def test_uncovered_and_doubled_codes_are_listed(tmp_path):
    segments = write_yaml(tmp_path / "segments.yaml", """
        segments:
          - {name: Best, group: A, codes: ["111", "11*"]}
          - {name: Good, group: A, codes: ["112", "(1-2)(2,3)*"]}
          - {name: Rest, group: B, codes: ["3**"]}
    """)
    with pytest.raises(ConfigError) as error:
        load_config([DEFAULT, segments])
    message = str(error.value)
    assert message.startswith(f"{segments}: segments:")
    assert "covered by no segment: 211, 212, 213" in message
    assert "more than one segment: 112 (Best / Good)" in message


def test_resolved_config_round_trips_and_hash_ignores_output(tmp_path):
    config = load_config([DEFAULT])
    again = write_yaml(tmp_path / "resolved.yaml", config.to_yaml())
    assert load_config([again]) == config
    moved = load_config([DEFAULT], ["output.lakehouse=/elsewhere"])
    assert moved.sha256 == config.sha256
    assert load_config([DEFAULT], ["metrics.frequency=days"]).sha256 != config.sha256


@pytest.mark.parametrize("overrides, message", [
    (["grading.recency.at=[50]"], r"'grading.recency.at' is not used by method 'quantile'"),
    (["grading.frequency.method=percentiles"], r"'grading.frequency.at' must list the percentiles"),
    (["grading.frequency={method: percentiles, at: [80, 40]}"], r"increasing percentiles"),
    (["grading.recency={method: thresholds, cuts: [10, churn_period]}"],
     r"can use churn_period only for recency or age, with metrics.churn_period set"),
    (["metrics.churn_period=105", "grading.recency={method: thresholds, cuts: [200, churn_period]}"],
     r"'grading.recency.cuts' must be strictly increasing"),
    (["grading.recency={method: thresholds, cuts: ['<= ten', 20]}"], r"cannot read cut '<= ten'"),
    (["metrics.frequency=rate"], r"'metrics.churn_period' is needed by metrics.frequency: rate"),
    (["metrics.churn_period=0"], r"'metrics.churn_period' must be at least 1 day"),
    (["metrics.churn_period={percentile: 100}"], r"'metrics.churn_period.percentile' must be"),
    (["metrics.churn_period=1.5"], r"'metrics.churn_period' must be an integer or a mapping"),
    (["grading.frequency.within=[monetary]", "grading.monetary.within=[frequency]"],
     r"'grading' circular 'within' between frequency, monetary"),
    (["grading.frequency.within=[age]"], r"names 'age', not another graded metric"),
    (["grading.partition_by=[store]"], r"names store, which input.columns does not map"),
    (["grading.score={age: 1}"], r"'grading.score.age' needs grading.age"),
    (["grading.monetary.of=orders"], r"'grading.monetary.of' is not used by method 'quantile'"),
    (["grading.recency={method: iqr, of: orders, grades: null}"], r"'orders' is for monetary"),
])
def test_grading_options_are_checked_before_spark(overrides, message):
    with pytest.raises(ConfigError, match=r"^--set: .*" + message):
        load_config([DEFAULT], overrides)


def test_grades_inherited_from_an_earlier_file_must_agree_with_the_method():
    # default.yaml's `grades: 3` survives the merge; 3 percentiles make 4 grades.
    with pytest.raises(ConfigError, match=r"default.yaml: 'grading.frequency.grades' is 3, "
                                          r"but method 'percentiles' gives 4 grades here"):
        load_config([DEFAULT], ["grading.frequency={method: percentiles, at: [25, 50, 75]}"])


def test_a_preset_layers_on_the_default_and_set_still_wins():
    presets = REPO / "conf" / "presets"
    config = load_config([DEFAULT, presets / "pharmacy_rfma.yaml"],
                         ["metrics.churn_period={percentile: 95}"])
    assert config.grading.metrics == ("recency", "frequency", "monetary", "age")
    assert config.metrics.churn_period.percentile == 95
    assert config.input.columns.date == "t_dat"  # from the default, untouched by the preset
    assert config.grading.frequency.parsed_cuts() == [(Decimal("0.2"), True),
                                                      (Decimal("0.96"), False)]


@pytest.mark.parametrize("override, value", [
    ("input.csv.delimiter=,", ","), ("input.csv.delimiter=;", ";"),
    ("clean.customer_id_pattern=[0-9]{13}", "[0-9]{13}"),
    ("input.csv.delimiter='|'", "|"),  # `|` alone is YAML (an empty block): quote it
])
def test_a_set_value_that_is_not_yaml_is_taken_as_text(override, value):
    config = load_config([DEFAULT], [override])
    key = override.split("=")[0].split(".")[-1]
    assert getattr(config.input.csv if "csv" in override else config.clean, key) == value


def test_presets_and_source_profiles_can_be_named():
    named = load_config([DEFAULT, "source:pharmacy_cheques", "preset:pharmacy_rfma"])
    by_path = load_config([DEFAULT, REPO / "conf/sources/pharmacy_cheques.yaml",
                           REPO / "conf/presets/pharmacy_rfma.yaml"])
    assert named == by_path
    with pytest.raises(ConfigError, match=r"preset:nope: no such preset \(known: classic, "):
        load_config([DEFAULT, "preset:nope"])


def test_a_tag_rule_error_names_its_file_and_key(tmp_path):
    layer = write_yaml(tmp_path / "tags.yaml", """
        tags:
          - {name: Good, codes: ["1**"]}
          - {name: Odd, where: {recncy: 1}}
    """)
    with pytest.raises(ConfigError, match=rf"^{layer}: tags: where: recncy is not a graded metric"):
        load_config([DEFAULT, layer])


def test_churn_section_has_the_default_grid_and_stays_out_of_the_run_hash():
    config = load_config([DEFAULT])
    churn = config.churn
    assert (churn.horizon_days, churn.label, churn.model, churn.value) == (90, "drop", "gbt",
                                                                           "money")
    assert churn.cell("high", "high").segment == "Valuable, at risk"
    assert churn.cell("high", "high").action == "personal offer"
    assert len(churn.grid) == 9
    other = load_config([DEFAULT], ["churn.horizon_days=60", "churn.model=logistic"])
    assert (other.sha256, other.scheme_sha256) == (config.sha256, config.scheme_sha256)


@pytest.mark.parametrize("override, message", [
    ("churn.observations=1", r"'churn.observations' must be at least 2"),
    ("churn.label=gone", r"'churn.label' must be one of drop, inactive"),
    ("churn.value_bands.cuts=[0.5, 1.5]", r"'churn.value_bands.cuts' must be shares"),
    ("churn.churn_bands.names=[low, high]", r"'churn.churn_bands.names' must name 3 bands"),
    ("churn.grid=[{churn: high, value: high, segment: X}]",
     r"--set: 'churn.grid' must name every \(churn, value\) band pair once"),
    ("churn.monthly_discount=1.5", r"'churn.monthly_discount' must be a rate"),
])
def test_bad_churn_settings_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config([DEFAULT], [override])
