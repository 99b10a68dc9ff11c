import datetime as dt

import pytest

from rfm_spark.schedule import as_of_dates

D = dt.date


def test_month_ends_stay_month_ends():
    assert as_of_dates(D(2024, 1, 31), D(2024, 4, 30), "month") == [
        D(2024, 1, 31), D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30)]


def test_a_day_of_the_month_is_clipped_not_carried():
    assert as_of_dates(D(2023, 12, 30), D(2024, 3, 29), "month") == [
        D(2023, 12, 30), D(2024, 1, 30), D(2024, 2, 29)]


def test_weeks_and_days_include_the_end_when_it_falls_on_a_step():
    assert as_of_dates(D(2024, 1, 1), D(2024, 1, 15), "week") == [
        D(2024, 1, 1), D(2024, 1, 8), D(2024, 1, 15)]
    assert as_of_dates(D(2024, 1, 1), D(2024, 1, 10), "3 days") == [
        D(2024, 1, 1), D(2024, 1, 4), D(2024, 1, 7), D(2024, 1, 10)]
    assert as_of_dates(D(2024, 1, 1), D(2024, 1, 1), "10d") == [D(2024, 1, 1)]


@pytest.mark.parametrize("every", ["fortnight", "0 days", "-3 days", "month 2"])
def test_bad_steps_are_refused(every):
    with pytest.raises(ValueError, match="--every"):
        as_of_dates(D(2024, 1, 1), D(2024, 2, 1), every)


def test_end_before_start_is_refused():
    with pytest.raises(ValueError, match="before the start"):
        as_of_dates(D(2024, 2, 1), D(2024, 1, 1), "week")
