"""`spark-submit jobs/basket.py ...`: the same job as `rfm-basket` (rfm_spark/jobs/basket.py)."""
import sys

from rfm_spark.jobs.basket import main

if __name__ == "__main__":
    sys.exit(main())
