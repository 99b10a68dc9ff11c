"""`spark-submit jobs/codes.py ...`: the same job as `rfm-codes` (rfm_spark/jobs/codes.py)."""
import sys

from rfm_spark.jobs.codes import main

if __name__ == "__main__":
    sys.exit(main())
