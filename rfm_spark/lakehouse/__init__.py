"""All Delta I/O: where the tables live and every statement on them (`storage`), how a
run is written so that it never half-exists (`protocol`), and what readers see
(`readers`)."""
from rfm_spark.lakehouse.protocol import (Attempt, RunState, RunWrite, claim_holder, utc_now,
                                          write_run)
from rfm_spark.lakehouse.readers import (RunInfo, migration_pairs, previous_run, read_table,
                                         refuse_other_scheme, refuse_partitioned, run_config,
                                         run_rows, stored, succeeded_run, succeeded_runs)
from rfm_spark.lakehouse.storage import Lakehouse, Layout, concurrently, retry_on_conflict

__all__ = ["Attempt", "Lakehouse", "Layout", "RunInfo", "RunState", "RunWrite",
           "claim_holder", "concurrently", "migration_pairs", "previous_run", "read_table",
           "refuse_other_scheme", "refuse_partitioned", "retry_on_conflict", "run_config",
           "run_rows", "stored", "succeeded_run", "succeeded_runs", "utc_now", "write_run"]
