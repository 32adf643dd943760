-- Stage the source (the placeholder after FROM: a registered DataFrame or read_parquet($files)) in contract types.
-- Values arrive as parameters, never as SQL text.
CREATE TEMP TABLE _daap_stage AS
SELECT
    CAST(symbol AS VARCHAR)                   AS symbol,
    CAST(interval AS VARCHAR)                 AS interval,
    CAST(open_time AS TIMESTAMPTZ)            AS open_time,
    CAST(close_time AS TIMESTAMPTZ)           AS close_time,
    CAST(open AS DOUBLE)                      AS open,
    CAST(high AS DOUBLE)                      AS high,
    CAST(low AS DOUBLE)                       AS low,
    CAST(close AS DOUBLE)                     AS close,
    CAST(volume AS DOUBLE)                    AS volume,
    CAST(quote_volume AS DOUBLE)              AS quote_volume,
    CAST(trades AS BIGINT)                    AS trades,
    CAST(taker_buy_volume AS DOUBLE)          AS taker_buy_volume,
    CAST(taker_buy_quote_volume AS DOUBLE)    AS taker_buy_quote_volume,
    CAST(vwap AS DOUBLE)                      AS vwap,
    CAST(first_trade_id AS BIGINT)            AS first_trade_id,
    CAST(last_trade_id AS BIGINT)             AS last_trade_id
FROM {{source}}
WHERE ($symbol IS NULL OR symbol = $symbol)
  AND ($interval IS NULL OR interval = $interval)
  AND ($start IS NULL OR open_time >= $start)
  AND ($end IS NULL OR open_time < $end);
