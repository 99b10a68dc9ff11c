"""`spark-submit jobs/campaign.py ...`: the same job as `rfm-campaign` (rfm_spark/jobs/campaign.py)."""
import sys

from rfm_spark.jobs.campaign import main

if __name__ == "__main__":
    sys.exit(main())
