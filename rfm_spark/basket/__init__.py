"""Cross-sell rules per segment (source 000): baskets and FP-Growth (`mining`), Fisher's
test and Benjamini-Hochberg (`stats`), recommendations and their holdout check
(`recommend`), the printed summaries (`summary`), and the job's steps (`api`)."""
from rfm_spark.basket.api import BasketResult, check_items, evaluate_holdout, mine_basket_rules

__all__ = ["BasketResult", "check_items", "evaluate_holdout", "mine_basket_rules"]
