-- raw_candles: the candle contract (ARCHITECTURE.md section 2), one row per (symbol, interval, open_time).
CREATE TABLE IF NOT EXISTS raw_candles (
    symbol                  VARCHAR     NOT NULL,
    interval                VARCHAR     NOT NULL,
    open_time               TIMESTAMPTZ NOT NULL,
    close_time              TIMESTAMPTZ NOT NULL,
    open                    DOUBLE      NOT NULL,
    high                    DOUBLE      NOT NULL,
    low                     DOUBLE      NOT NULL,
    close                   DOUBLE      NOT NULL,
    volume                  DOUBLE      NOT NULL,
    quote_volume            DOUBLE      NOT NULL,
    trades                  BIGINT      NOT NULL,
    taker_buy_volume        DOUBLE      NOT NULL,
    taker_buy_quote_volume  DOUBLE      NOT NULL,
    vwap                    DOUBLE,
    first_trade_id          BIGINT,
    last_trade_id           BIGINT,
    PRIMARY KEY (symbol, interval, open_time)
);
CREATE TABLE IF NOT EXISTS _daap_loads (
    loaded_at   TIMESTAMPTZ NOT NULL,
    source      VARCHAR     NOT NULL,
    rows_in     BIGINT      NOT NULL,
    inserted    BIGINT      NOT NULL,
    updated     BIGINT      NOT NULL,
    unchanged   BIGINT      NOT NULL
);
