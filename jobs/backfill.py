"""`spark-submit jobs/backfill.py ...`: the same job as `rfm-backfill` (rfm_spark/jobs/backfill.py)."""
import sys

from rfm_spark.jobs.backfill import main

if __name__ == "__main__":
    sys.exit(main())
