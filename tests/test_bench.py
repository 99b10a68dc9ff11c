"""The bench's bookkeeping (no engine is run): stage times read from a job's log, and
the regression guard against the previous entry of the same scale."""
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import run as bench  # noqa: E402  (bench/ is a folder of scripts, not a package)


def test_stage_seconds_add_up_stages_of_the_same_name_and_hide_paths_and_ids(tmp_path):
    log = tmp_path / "job.log"
    log.write_text(
        "2026-12-03 10:00:00 INFO rfm_spark: read: done in 2.0 s (rows=10)\n"
        "2026-12-03 10:00:01 INFO rfm_spark: write /tmp/a/lake/*: done in 1.25 s\n"
        "2026-12-03 10:00:02 INFO rfm_spark: write /tmp/b/lake/*: done in 0.5 s\n"
        "2026-12-03 10:00:03 INFO rfm_spark.steps: frequency: done in 9 s (not a stage)\n"
        "2026-12-03 10:00:04 INFO rfm_spark: read: started\n"
        "2026-12-03 10:00:05 INFO rfm_spark: BG/NBD at 6 observation dates: done in 60.0 s\n"
        "2026-12-03 10:00:06 INFO rfm_spark: write churn model "
        "6bb141b7c19845449377fb9d99fc0c3b: done in 3.0 s (scores=5)\n")
    assert bench.stage_seconds(log) == {"read": 2.0, "write <path>": 1.8,
                                        "BG/NBD at 6 observation dates": 60.0,
                                        "write churn model <id>": 3.0}


def test_regressions_name_what_got_over_10_percent_slower_and_skip_failures_and_noise():
    def product(seconds, stages):
        return {"engine": "product", "format": "parquet", "seconds": seconds,
                "exit_code": 0, "stages": stages}
    previous = {"runs": [product(60.0, {"read": 2.0, "write": 19.0, "quality": 0.5})],
                "jobs": [{"job": "churn", "seconds": 100.0, "exit_code": 0},
                         {"job": "basket", "seconds": 50.0, "exit_code": 1}]}
    current = {"runs": [product(66.1, {"read": 2.2, "write": 21.0, "quality": 0.9}),
                        {"engine": "duckdb", "format": "parquet", "seconds": 99.0}],
               "jobs": [{"job": "churn", "seconds": 109.0, "exit_code": 0},
                        {"job": "basket", "seconds": 90.0, "exit_code": 0}]}
    assert bench.regressions(previous, current) == [
        "product parquet, whole: 60.0 s -> 66.1 s (+10%)",
        "product parquet, write: 19.0 s -> 21.0 s (+11%)"]


def test_an_entry_from_another_machine_is_not_compared():
    intel = {"cpu": "Intel(R) Xeon(R) Processor", "cores": 2, "memory_gib": 24}
    amd = {**intel, "cpu": "AMD EPYC"}
    slow = {"jobs": [{"job": "churn", "seconds": 100.0, "exit_code": 0}]}
    slower = {"jobs": [{"job": "churn", "seconds": 200.0, "exit_code": 0}]}
    assert bench.comparison({**slow, "machine": intel}, {**slower, "machine": amd}) == [
        "not compared: the previous entry was measured on " + str(intel) + ", this one on "
        + str(amd)]
    assert bench.comparison({**slow, "machine": amd}, {**slower, "machine": amd}) == [
        "SLOWER: job churn, whole: 100.0 s -> 200.0 s (+100%)"]


def test_the_stage_table_puts_each_formats_stages_and_floors_side_by_side():
    runs = [{"engine": "product", "format": "parquet", "stages": {"read": 1.0, "write": 30.0}},
            {"engine": "product", "format": "csv", "stages": {"read": 0.5, "write": 90.0}},
            {"engine": "floor", "format": "parquet",
             "stages": {"floor: scan": 18.0, "floor: one sort": 4.0}},
            {"engine": "floor", "format": "csv", "stages": {"floor: scan": 47.0}},
            {"engine": "duckdb", "format": "parquet", "stages": {}}]
    assert bench.stage_table(runs)[3:] == [
        "| stage | Parquet | CSV |", "|---|---|---|", "| read | 1.0 | 0.5 |",
        "| write | 30.0 | 90.0 |", "| floor: scan | 18.0 | 47.0 |", "| floor: one sort | 4.0 |  |"]
    assert bench.stage_table(runs[2:]) == []  # no product run: no table


def test_a_failed_commands_error_is_one_table_cell():
    traceback = ('  File "managers.py", line 1746, in _interleave\n'
                 '    result = np.empty(self.shape, dtype=dtype)\n'
                 'numpy._core._exceptions._ArrayMemoryError: Unable to allocate 1.86 TiB | x\n')
    assert bench.failure(traceback) == ("numpy._core._exceptions._ArrayMemoryError: Unable to "
                                        "allocate 1.86 TiB / x")
    assert bench.failure("did not finish in 1800 s (killed)") == "did not finish in 1800 s (killed)"
