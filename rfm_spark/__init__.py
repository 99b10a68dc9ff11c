"""rfm_spark: RFM customer segmentation on Spark and Delta Lake."""
__version__ = "0.1.0"

from rfm_spark.config import ConfigError, load_config  # noqa: E402
from rfm_spark.pipeline import RunResult, run_segmentation  # noqa: E402

__all__ = ["ConfigError", "RunResult", "load_config", "run_segmentation", "__version__"]
