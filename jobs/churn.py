"""`spark-submit jobs/churn.py ...`: the same job as `rfm-churn` (rfm_spark/jobs/churn.py)."""
import sys

from rfm_spark.jobs.churn import main

if __name__ == "__main__":
    sys.exit(main())
