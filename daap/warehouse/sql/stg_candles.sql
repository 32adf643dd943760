-- stg_candles: raw_candles under the analyst names of the original marts, plus the extra contract fields.
CREATE OR REPLACE VIEW stg_candles AS
SELECT
    symbol,
    interval,
    open_time               AS candle_start_time,
    close_time              AS candle_end_time,
    open                    AS open_price,
    high                    AS high_price,
    low                     AS low_price,
    close                   AS close_price,
    volume                  AS trading_volume,
    quote_volume            AS quote_volume,
    trades                  AS trade_count,
    taker_buy_volume        AS taker_buy_volume,
    taker_buy_quote_volume  AS taker_buy_quote_volume,
    vwap                    AS vwap,
    first_trade_id          AS first_trade_id,
    last_trade_id           AS last_trade_id
FROM raw_candles;
