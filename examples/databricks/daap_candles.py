# Databricks notebook source
# MAGIC %md
# MAGIC # daap: candles from the lake's bronze trades, on Spark
# MAGIC
# MAGIC For one symbol and one calendar month, this notebook reads the normalized trades of the lake's bronze zone
# MAGIC (`bronze/trades/market=spot/symbol=S/date=YYYY-MM-DD/`, the parts listed by the lake's manifests), builds
# MAGIC exact OHLCV candles with daap's Spark engine and writes them to the lake's candles zone,
# MAGIC `candles/interval=I/symbol=S/date=YYYY-MM-DD/`, one Parquet file per UTC day. Rerunning a month replaces
# MAGIC exactly its days. The notebook holds no logic of its own: it calls `SparkEngine.build_lake`, the same code the
# MAGIC tests run on local Spark.
# MAGIC
# MAGIC The lake path is where both the driver and Spark can reach it: a Unity Catalog volume (`/Volumes/...`, best), a
# MAGIC `/dbfs/...` path, or `s3://bucket/prefix` (needs `daap[s3]` for the manifests). Fill it with trades first, e.g.
# MAGIC `daap download BTCUSDT --month 2025-01 --lake /Volumes/main/daap/lake` from a job or a terminal.

# COMMAND ----------

# MAGIC %md
# MAGIC Databricks Runtime ships its own `pyspark`: install plain `daap` here. (`daap[spark]` adds `pyspark` from PyPI
# MAGIC for local Spark and would shadow the runtime's.)

# COMMAND ----------

# MAGIC %pip install daap

# COMMAND ----------

# ruff: noqa: D100, E402, F821 - a notebook: no docstring, late imports, Databricks globals (spark, dbutils, display)
dbutils.library.restartPython()

# COMMAND ----------

dbutils.widgets.text("lake", "/Volumes/main/daap/lake", "Lake path")
dbutils.widgets.text("symbol", "BTCUSDT", "Symbol")
dbutils.widgets.text("month", "2025-01", "Month (YYYY-MM)")
dbutils.widgets.text("interval", "1m", "Interval")

# COMMAND ----------

import calendar
import datetime as dt

import daap
from daap.engines import get_engine

lake = daap.Lake(dbutils.widgets.get("lake").strip())
symbol = dbutils.widgets.get("symbol").strip().upper()
first_day = dt.date.fromisoformat(dbutils.widgets.get("month").strip() + "-01")
last_day = first_day.replace(day=calendar.monthrange(first_day.year, first_day.month)[1])
interval = daap.Interval.parse(dbutils.widgets.get("interval").strip())
print(f"{symbol} {interval} candles for {first_day:%Y-%m} from {lake.uri}")

# COMMAND ----------

# The bronze parts of the month, from the lake's manifests (half-finished ingests are invisible).
bronze = lake.bronze_keys(symbol, start=first_day, end=last_day)
print(f"{len(bronze)} bronze part(s), {bronze[0] if bronze else 'none'} ...")

# COMMAND ----------

summary = get_engine("spark").build_lake(
    lake, symbol, interval, start=first_day, end=last_day, session=spark, validate=True
)
print(
    f"{summary.rows_in:,} trades from {summary.files} part(s) -> {summary.candles_out:,} {summary.interval} candles "
    f"({summary.gap_rows:,} gap rows) in {summary.seconds:.1f} s: {summary.output}"
)

# COMMAND ----------

candles = spark.read.parquet(summary.output).where(
    f"date BETWEEN '{first_day.isoformat()}' AND '{last_day.isoformat()}'"
)
display(candles.orderBy("open_time").limit(100))
