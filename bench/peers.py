"""The same work as the product, done by the tools a user would pick instead.

    python bench/peers.py duckdb|polars|pandas parquet|csv INPUT OUTPUT.parquet
    python bench/peers.py lifetimes|mlxtend parquet INPUT OUTPUT.json

Each reads the H&M-shaped table, computes per customer recency (days since the last
purchase, as of the last date in the data), frequency (distinct purchase days),
monetary (sum of price) and quartile grades 1..4 (1 = best), and writes one row per
customer to OUTPUT. DuckDB and Polars grade with the product's tie rule (1 + floor(4b/N),
b = customers strictly better) and DuckDB sums money as DECIMAL(18,8) like the product,
so its metrics can be compared exactly; pandas is written the way the source notebooks
do it (qcut over ranks, ties split by order).
"""
from __future__ import annotations

import glob
import sys


def duckdb_rfm(fmt: str, source: str, output: str) -> None:
    import duckdb
    reader = (f"read_parquet('{source}/*.parquet')" if fmt == "parquet"
              else f"read_csv('{source}/*.csv', header=true, columns={{'t_dat': 'DATE', "
                   f"'customer_id': 'VARCHAR', 'article_id': 'BIGINT', 'price': 'VARCHAR', "
                   f"'sales_channel_id': 'INTEGER'}})")
    grade = "(1 + floor(4 * (rank() OVER (ORDER BY {order}) - 1) / count(*) OVER ()))::INT"
    duckdb.sql(f"""
        COPY (
          WITH t AS (SELECT customer_id, t_dat,
                            CAST(CAST(price AS VARCHAR) AS DECIMAL(18, 8)) AS price
                     FROM {reader}),
               customers AS (
                 SELECT customer_id,
                        (SELECT max(t_dat) FROM t) - max(t_dat) AS recency_days,
                        count(DISTINCT t_dat) AS frequency,
                        CAST(sum(price) AS DECIMAL(38, 8)) AS monetary
                 FROM t GROUP BY customer_id)
          SELECT *, {grade.format(order="recency_days")} AS r_grade,
                    {grade.format(order="frequency DESC")} AS f_grade,
                    {grade.format(order="monetary DESC")} AS m_grade
          FROM customers
        ) TO '{output}' (FORMAT parquet)
    """)


def polars_rfm(fmt: str, source: str, output: str) -> None:
    import polars as pl
    frame = (pl.scan_parquet(f"{source}/*.parquet") if fmt == "parquet"
             else pl.scan_csv(f"{source}/*.csv", try_parse_dates=True))
    last = pl.col("t_dat").max()
    customers = frame.group_by("customer_id").agg(
        last.alias("last"), pl.col("t_dat").n_unique().alias("frequency"),
        pl.col("price").sum().alias("monetary"))
    n = pl.len()

    def grade(column: str, lower_is_better: bool) -> pl.Expr:
        better = pl.col(column).rank("min", descending=not lower_is_better) - 1
        return (1 + (4 * better) // n).cast(pl.Int32)

    (customers
     .with_columns((pl.col("last").max() - pl.col("last")).dt.total_days()
                   .alias("recency_days"))
     .with_columns(grade("recency_days", True).alias("r_grade"),
                   grade("frequency", False).alias("f_grade"),
                   grade("monetary", False).alias("m_grade"))
     .drop("last")
     .sink_parquet(output))


def pandas_rfm(fmt: str, source: str, output: str) -> None:
    import pandas as pd
    files = sorted(glob.glob(f"{source}/*.{fmt}"))
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    frame = pd.concat([read(path) for path in files], ignore_index=True)
    frame["t_dat"] = pd.to_datetime(frame["t_dat"])
    as_of = frame["t_dat"].max()
    rfm = frame.groupby("customer_id").agg(
        last=("t_dat", "max"), frequency=("t_dat", "nunique"), monetary=("price", "sum"))
    rfm["recency_days"] = (as_of - rfm["last"]).dt.days
    rfm["r_grade"] = pd.qcut(rfm["recency_days"].rank(method="first"), 4, labels=[1, 2, 3, 4])
    rfm["f_grade"] = pd.qcut(rfm["frequency"].rank(method="first"), 4, labels=[4, 3, 2, 1])
    rfm["m_grade"] = pd.qcut(rfm["monetary"].rank(method="first"), 4, labels=[4, 3, 2, 1])
    rfm.drop(columns="last").reset_index().to_parquet(output)


def lifetimes_bgnbd(fmt: str, source: str, output: str) -> None:
    """The churn job's BG/NBD as users run it with `lifetimes`: per-customer (x, t_x, T) in
    weeks from purchase days (pandas), a fit, P(alive) and 90-day expected purchases for
    every customer."""
    import json

    import pandas as pd
    from lifetimes import BetaGeoFitter
    frame = pd.concat([pd.read_parquet(path, columns=["customer_id", "t_dat"])
                       for path in sorted(glob.glob(f"{source}/*.parquet"))], ignore_index=True)
    days = frame.assign(t_dat=pd.to_datetime(frame["t_dat"])).drop_duplicates()
    as_of = days["t_dat"].max()
    per = days.groupby("customer_id")["t_dat"].agg(["min", "max", "count"])
    x = per["count"] - 1
    t_x = (per["max"] - per["min"]).dt.days / 7
    big_t = (as_of - per["min"]).dt.days / 7
    model = BetaGeoFitter().fit(x, t_x, big_t)
    alive = model.conditional_probability_alive(x, t_x, big_t)
    expected = model.conditional_expected_number_of_purchases_up_to_time(90 / 7, x, t_x, big_t)
    with open(output, "w") as out:
        json.dump({"params": model.params_.to_dict(), "customers": len(per),
                   "mean_p_alive": float(alive.mean()),
                   "mean_expected": float(expected.mean())}, out)


def mlxtend_rules(fmt: str, source: str, output: str) -> None:
    """The basket job's rules as users mine them with `mlxtend`: baskets of distinct
    articles per customer, day and channel, one-hot encoded (sparse), FP-Growth at the
    product's 50 baskets, rules at its 5% confidence (over all customers' baskets)."""
    import json

    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder
    frame = pd.concat([pd.read_parquet(path, columns=["customer_id", "t_dat", "sales_channel_id",
                                                     "article_id"])
                       for path in sorted(glob.glob(f"{source}/*.parquet"))], ignore_index=True)
    baskets = (frame.assign(article_id=frame["article_id"].astype(str)).drop_duplicates()
               .groupby(["customer_id", "t_dat", "sales_channel_id"])["article_id"]
               .agg(list).tolist())
    encoder = TransactionEncoder()
    onehot = pd.DataFrame.sparse.from_spmatrix(encoder.fit(baskets).transform(baskets,
                                                                              sparse=True),
                                               columns=encoder.columns_)
    itemsets = fpgrowth(onehot, min_support=50 / len(baskets), use_colnames=True)
    rules = association_rules(itemsets, metric="confidence", min_threshold=0.05)
    with open(output, "w") as out:
        json.dump({"baskets": len(baskets), "itemsets": len(itemsets), "rules": len(rules)}, out)


PEERS = {"duckdb": duckdb_rfm, "polars": polars_rfm, "pandas": pandas_rfm,
         "lifetimes": lifetimes_bgnbd, "mlxtend": mlxtend_rules}

if __name__ == "__main__":
    engine, fmt, source, output = sys.argv[1:5]
    PEERS[engine](fmt, source, output)
