-- A lake load replaces whole day partitions: rows of a loaded (symbol, interval, UTC day) that the new day file no
-- longer has (for example a day Binance republished with fewer trades) are removed, so the table equals the lake.
-- Portable on purpose: the DELETE target has no alias, and AT TIME ZONE (not timezone()) becomes Snowflake's
-- CONVERT_TIMEZONE when transpiled.
DELETE FROM raw_candles
WHERE EXISTS (
        SELECT 1
        FROM (SELECT DISTINCT symbol, interval, CAST(open_time AT TIME ZONE 'UTC' AS DATE) AS day FROM _daap_stage) AS p
        WHERE p.symbol = raw_candles.symbol
          AND p.interval = raw_candles.interval
          AND p.day = CAST(raw_candles.open_time AT TIME ZONE 'UTC' AS DATE)
    )
  AND NOT EXISTS (
        SELECT 1 FROM _daap_stage AS s
        WHERE s.symbol = raw_candles.symbol AND s.interval = raw_candles.interval AND s.open_time = raw_candles.open_time
    );
