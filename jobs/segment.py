"""`spark-submit jobs/segment.py ...`: the same job as `rfm-segment` (rfm_spark/jobs/segment.py)."""
import sys

from rfm_spark.jobs.segment import main

if __name__ == "__main__":
    sys.exit(main())
