"""rfm_spark: RFM customer segmentation on Spark and Delta Lake."""
from __future__ import annotations

__version__ = "0.2.0"
__all__ = ["ConfigError", "RfmError", "RunResult", "assign_campaign", "campaign_migration",
           "load_config", "measure_campaign", "run_segmentation", "__version__"]

# The public API, imported on first use: `import rfm_spark` stays cheap (no Spark) and
# the library's modules never import the package's top level back.
_API = {"ConfigError": "rfm_spark.errors", "RfmError": "rfm_spark.errors",
        "load_config": "rfm_spark.config", "RunResult": "rfm_spark.pipeline",
        "run_segmentation": "rfm_spark.pipeline", "assign_campaign": "rfm_spark.campaigns",
        "measure_campaign": "rfm_spark.campaigns", "campaign_migration": "rfm_spark.campaigns"}


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'rfm_spark' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(_API[name]), name)
