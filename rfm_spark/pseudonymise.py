"""Pseudonymisation: customer ids replaced by a keyed hash, HMAC-SHA256, before anything
is aggregated or written. The key comes from an environment variable or, where jobs have
none to set (Databricks serverless), a Databricks secret; never from the YAML, the logs
or the run tables. So the same key gives the same pseudonyms on every run and nobody
without it can link them back (or compute them for a guessed id).

HMAC is built from Spark's own sha2 over binary values (RFC 2104), no Python UDF:
  HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m)),
K' = K padded with zeros to the 64-byte block (hashed first when longer).
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rfm_spark.config import Pseudonymise
from rfm_spark.errors import ConfigError

_BLOCK = 64


def pseudonymisation_key(settings: Pseudonymise, dbutils: Any = None) -> bytes:
    """The key's bytes (UTF-8), from `key_secret` when set (through `dbutils`, found on
    Databricks when not given), else from the environment variable `key_variable`.
    Raises ConfigError naming where it looked, never the value."""
    if settings.key_secret is None:
        return key_from_environment(settings.key_variable)
    secret = settings.key_secret
    dbutils = dbutils or _databricks_utilities()
    if dbutils is None:
        raise ConfigError(f"pseudonymisation: input.pseudonymise.key_secret names the "
                          f"Databricks secret {secret.scope}/{secret.key}, but this is not "
                          "Databricks (no dbutils); use key_variable here")
    try:
        value = dbutils.secrets.get(scope=secret.scope, key=secret.key)
    except Exception as error:
        raise ConfigError(f"pseudonymisation: cannot read the Databricks secret "
                          f"{secret.scope}/{secret.key}: {str(error).splitlines()[0]}") from None
    if not value:
        raise ConfigError(f"pseudonymisation: the Databricks secret {secret.scope}/"
                          f"{secret.key} is empty")
    return value.encode("utf-8")


def key_from_environment(variable: str) -> bytes:
    """The key's bytes (UTF-8); raises ConfigError naming the variable, never the value."""
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"pseudonymisation: environment variable {variable} is not set "
                          "(it holds the key; the key is never read from the config)")
    return value.encode("utf-8")


def _databricks_utilities() -> Any:
    """Databricks' dbutils where the runtime (or its SDK, on serverless) provides it."""
    try:
        from databricks.sdk.runtime import dbutils  # serverless and recent runtimes
        return dbutils
    except Exception:  # not Databricks: the import fails, or the SDK finds no runtime
        return None


def hmac_sha256(message: Column, inner_pad: Column, outer_pad: Column) -> Column:
    """Hex HMAC-SHA256 of a string column (UTF-8 bytes), given the key's two pads."""
    inner = F.unhex(F.sha2(F.concat(inner_pad, message.cast("binary")), 256))
    return F.sha2(F.concat(outer_pad, inner), 256)


def key_pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def pseudonymise(transactions: DataFrame, key: bytes) -> DataFrame:
    """customer_id -> its HMAC; NULL and blank ids stay as they are (they are rejected).
    The pads travel as a one-row table joined in, not as literals: literals would print
    the key into query plans, the Spark UI and event logs."""
    inner_pad, outer_pad = key_pads(key)
    pads = transactions.sparkSession.createDataFrame(
        [(bytearray(inner_pad), bytearray(outer_pad))], "inner_pad binary, outer_pad binary")
    customer = F.col("customer_id")
    known = customer.isNotNull() & (F.trim(customer) != "")
    hashed = hmac_sha256(customer, F.col("inner_pad"), F.col("outer_pad"))
    return (transactions.crossJoin(F.broadcast(pads))
            .withColumn("customer_id", F.when(known, hashed).otherwise(customer))
            .drop("inner_pad", "outer_pad"))
