"""Test/control campaigns on a run's segments: assignment (`assign`), response and lift
(`measure`, `stats`), the steps with their Delta writes (`api`) and their summaries."""
from rfm_spark.campaigns.api import (Campaign, CampaignSpec, assign_campaign, campaign_migration,
                                     export_test_arm, measure_campaign, read_members)
from rfm_spark.campaigns.assign import Selection
from rfm_spark.campaigns.measure import Decision

__all__ = ["Campaign", "CampaignSpec", "Decision", "Selection", "assign_campaign",
           "campaign_migration", "export_test_arm", "measure_campaign", "read_members"]
