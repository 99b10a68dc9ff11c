"""Churn risk and customer value (source 004): BG/NBD and Gamma-Gamma on small aggregates
(`btyd`, `value`), leakage-free labels and features (`labels`), MLlib models (`models`),
the churn x value grid (`grid`), and the job's steps (`api`)."""
from rfm_spark.churn.api import ChurnResult, train_churn

__all__ = ["ChurnResult", "train_churn"]
