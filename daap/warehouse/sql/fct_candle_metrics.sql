-- fct_candle_metrics: staging plus the indicator columns (the placeholder below: validated, quoted names),
-- computed by daap.indicators on each (symbol, interval) series in open_time order and registered as
-- _daap_indicators. close_price_7_period_sma keeps the name the original marts used.
CREATE OR REPLACE TABLE fct_candle_metrics AS
SELECT
    s.*,
    {{indicator_columns}}
FROM stg_candles AS s
LEFT JOIN _daap_indicators AS i
    ON i.symbol = s.symbol AND i.interval = s.interval AND i.open_time = s.candle_start_time
ORDER BY s.symbol, s.interval, s.candle_start_time;
