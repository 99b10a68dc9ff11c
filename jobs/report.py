"""`spark-submit jobs/report.py ...`: the same job as `rfm-report` (rfm_spark/jobs/report.py)."""
import sys

from rfm_spark.jobs.report import main

if __name__ == "__main__":
    sys.exit(main())
