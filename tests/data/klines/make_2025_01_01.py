"""Rebuild BTCUSDT-1m-2025-01-01.csv from the real trades in tests/data, independently of daap.

DuckDB groups the trades by minute and picks open/close by (time, id) with arg_min/arg_max; the sums are exact
decimals (Python ``Decimal`` on the original text, cross-checked with DuckDB's ``DECIMAL(38, 8)`` sums), written with
8 fractional digits as Binance does. Only the complete minutes 00:00-00:09 are written (the slice ends in 00:10).
The 00:00 row must equal Binance's official row, which this script checks before writing anything.

Run from the repository root: ``python tests/data/klines/make_2025_01_01.py``.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRADES = HERE.parent / "BTCUSDT-trades-2025-01-01.csv"
OUT = HERE / "BTCUSDT-1m-2025-01-01.csv"
MINUTE_US = 60_000_000
MINUTES = 10
OFFICIAL_00_00 = (
    "1735689600000000,93576.00000000,93610.93000000,93537.50000000,93610.93000000,8.21827000,1735689659999999,"
    "768978.75522470,2631,3.95157000,369757.32652890,0"
)

QUERY = """
WITH raw AS (  -- every field as its original text
    SELECT * FROM read_csv(?, header = false,
                           columns = {{'id': 'VARCHAR', 'price': 'VARCHAR', 'qty': 'VARCHAR', 'quote_qty': 'VARCHAR',
                                      'time': 'VARCHAR', 'is_buyer_maker': 'VARCHAR', 'is_best_match': 'VARCHAR'}})
), t AS (
    SELECT CAST(id AS BIGINT) AS id, price, CAST(price AS DECIMAL(18, 8)) AS p, qty, quote_qty,
           CAST(time AS BIGINT) AS time, is_buyer_maker = 'True' AS is_buyer_maker,
           CAST(time AS BIGINT) // {minute} AS minute
    FROM raw
)
SELECT minute * {minute} AS open_time,
       arg_min(price, (time, id)) AS open,
       max(p) AS high,
       min(p) AS low,
       arg_max(price, (time, id)) AS close,
       sum(CAST(qty AS DECIMAL(38, 8))) AS volume,
       minute * {minute} + {minute} - 1 AS close_time,
       sum(CAST(quote_qty AS DECIMAL(38, 8))) AS quote_volume,
       count(*) AS count,
       coalesce(sum(CAST(qty AS DECIMAL(38, 8))) FILTER (WHERE NOT is_buyer_maker), 0) AS taker_buy_volume,
       coalesce(sum(CAST(quote_qty AS DECIMAL(38, 8))) FILTER (WHERE NOT is_buyer_maker), 0)
           AS taker_buy_quote_volume
FROM t
GROUP BY minute
ORDER BY minute
"""


def decimal_sums() -> dict[int, tuple[Decimal, Decimal, Decimal, Decimal]]:
    """(volume, quote_volume, taker buy volume, taker buy quote volume) per minute, in Python ``Decimal``."""
    sums: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for line in TRADES.read_text().splitlines():
        _id, _price, qty, quote, time, buyer_maker, _best = line.split(",")
        s = sums[int(time) // MINUTE_US * MINUTE_US]
        s[0] += Decimal(qty)
        s[1] += Decimal(quote)
        if buyer_maker == "False":  # the taker bought
            s[2] += Decimal(qty)
            s[3] += Decimal(quote)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in sums.items()}


def eight(value: Decimal | str) -> str:
    """A decimal with exactly 8 fractional digits (exact: every input has at most 8)."""
    d = Decimal(value)
    assert d == d.quantize(Decimal("1e-8")), d
    return f"{d:.8f}"


def build_rows() -> list[str]:
    import duckdb

    rows = duckdb.execute(QUERY.format(minute=MINUTE_US), [str(TRADES)]).fetchall()
    exact = decimal_sums()
    lines = []
    for open_time, o, h, low, c, vol, close_time, qvol, count, tb, tbq in rows[:MINUTES]:
        assert (Decimal(vol), Decimal(qvol), Decimal(tb), Decimal(tbq)) == exact[open_time], open_time
        fields = [str(open_time), eight(o), eight(h), eight(low), eight(c), eight(vol), str(close_time)]
        fields += [eight(qvol), str(count), eight(tb), eight(tbq), "0"]
        lines.append(",".join(fields))
    return lines


def main() -> int:
    lines = build_rows()
    if lines[0] != OFFICIAL_00_00:
        print(f"the 00:00 row does not match Binance's official row:\n{lines[0]}\n{OFFICIAL_00_00}", file=sys.stderr)
        return 1
    OUT.write_text("".join(line + "\n" for line in lines))
    print(f"wrote {len(lines)} rows to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
