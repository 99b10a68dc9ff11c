"""`spark-submit jobs/simulate.py ...`: the same job as `rfm-simulate` (rfm_spark/jobs/simulate.py)."""
import sys

from rfm_spark.jobs.simulate import main

if __name__ == "__main__":
    sys.exit(main())
