"""Churn risk and customer value (source 004): BG/NBD and Gamma-Gamma on small aggregates
(`btyd`, `value`), leakage-free labels and features (`labels`), MLlib models (`models`)."""
