-- A lake load replaces whole day partitions: rows of a loaded (symbol, interval, UTC day) that the new day file no
-- longer has (for example a day Binance republished with fewer trades) are removed, so the table equals the lake.
DELETE FROM raw_candles AS r
WHERE EXISTS (
        SELECT 1
        FROM (SELECT DISTINCT symbol, interval, CAST(timezone('UTC', open_time) AS DATE) AS day FROM _daap_stage) AS p
        WHERE p.symbol = r.symbol AND p.interval = r.interval AND p.day = CAST(timezone('UTC', r.open_time) AS DATE)
    )
  AND NOT EXISTS (
        SELECT 1 FROM _daap_stage AS s
        WHERE s.symbol = r.symbol AND s.interval = r.interval AND s.open_time = r.open_time
    );
