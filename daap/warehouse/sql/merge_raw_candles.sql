-- Upsert the new and changed rows only: unchanged rows are not rewritten, so a rerun costs a join, not a write.
MERGE INTO raw_candles AS t
USING (SELECT * FROM _daap_delta WHERE _change <> 'unchanged') AS s
    ON t.symbol = s.symbol AND t.interval = s.interval AND t.open_time = s.open_time
WHEN MATCHED THEN UPDATE SET
    close_time = s.close_time,
    open = s.open,
    high = s.high,
    low = s.low,
    close = s.close,
    volume = s.volume,
    quote_volume = s.quote_volume,
    trades = s.trades,
    taker_buy_volume = s.taker_buy_volume,
    taker_buy_quote_volume = s.taker_buy_quote_volume,
    vwap = s.vwap,
    first_trade_id = s.first_trade_id,
    last_trade_id = s.last_trade_id
WHEN NOT MATCHED THEN INSERT (
    symbol, interval, open_time, close_time, open, high, low, close, volume, quote_volume, trades,
    taker_buy_volume, taker_buy_quote_volume, vwap, first_trade_id, last_trade_id
) VALUES (
    s.symbol, s.interval, s.open_time, s.close_time, s.open, s.high, s.low, s.close, s.volume, s.quote_volume,
    s.trades, s.taker_buy_volume, s.taker_buy_quote_volume, s.vwap, s.first_trade_id, s.last_trade_id
);
