"""`spark-submit jobs/migrate.py ...`: the same job as `rfm-migrate` (rfm_spark/jobs/migrate.py)."""
import sys

from rfm_spark.jobs.migrate import main

if __name__ == "__main__":
    sys.exit(main())
