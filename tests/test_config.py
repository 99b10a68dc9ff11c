import datetime as dt

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
    assert config.grading.monetary.grades == 3
    assert config.grading.monetary.cuts == [5.0, 50.0]
    assert config.metrics.frequency == "days"                 # --set beats the flags
    assert config.metrics.as_of == dt.date(2020, 1, 31)


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
    ("metrics.frequency=weekly", r"'metrics.frequency' must be one of rows, orders, days"),
    ("grading.recency.grades=three", r"'grading.recency.grades' must be an integer"),
    ("grading.recency.grades=12", r"'grading.recency.grades' must be between 2 and 9"),
    ("metrics.as_of=2020-02-30", r"'metrics.as_of' must be a date"),
    ("grading.frequency.method=thresholds", r"'grading.frequency.cuts' must list 2 cut points"),
    ("input.columns.amount=null", r"'input.columns.amount' is required unless"),
    ("input.columns.date=t_dat'); drop", r"not a valid column name"),
    ("clean.countries=[UK]", r"needs input.columns.country"),
    ("output.database=x;y", r"'output.database' must be"),
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
