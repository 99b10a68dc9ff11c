"""`spark-submit jobs/generate.py ...`: the same job as `rfm-generate` (rfm_spark/jobs/generate.py)."""
import sys

from rfm_spark.jobs.generate import main

if __name__ == "__main__":
    sys.exit(main())
