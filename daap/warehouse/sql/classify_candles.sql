-- Compare the staged rows with raw_candles: new, changed, or identical (NULL-safe, so gap rows compare equal).
CREATE TEMP TABLE _daap_delta AS
SELECT
    s.*,
    CASE
        WHEN r.open_time IS NULL THEN 'inserted'
        WHEN s.close_time IS DISTINCT FROM r.close_time
          OR s.open IS DISTINCT FROM r.open
          OR s.high IS DISTINCT FROM r.high
          OR s.low IS DISTINCT FROM r.low
          OR s.close IS DISTINCT FROM r.close
          OR s.volume IS DISTINCT FROM r.volume
          OR s.quote_volume IS DISTINCT FROM r.quote_volume
          OR s.trades IS DISTINCT FROM r.trades
          OR s.taker_buy_volume IS DISTINCT FROM r.taker_buy_volume
          OR s.taker_buy_quote_volume IS DISTINCT FROM r.taker_buy_quote_volume
          OR s.vwap IS DISTINCT FROM r.vwap
          OR s.first_trade_id IS DISTINCT FROM r.first_trade_id
          OR s.last_trade_id IS DISTINCT FROM r.last_trade_id
        THEN 'updated'
        ELSE 'unchanged'
    END AS _change
FROM _daap_stage AS s
LEFT JOIN raw_candles AS r
    ON r.symbol = s.symbol AND r.interval = s.interval AND r.open_time = s.open_time;
