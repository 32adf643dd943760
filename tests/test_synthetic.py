"""Tests of the synthetic Binance trade generator and its exact Binance CSV writer."""

from __future__ import annotations

import datetime
import hashlib
import io
import itertools
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daap.sources.synthetic import (
    FIRST_TRADE_ID,
    NORMALIZED_SCHEMA,
    TRADE_SCHEMA,
    SyntheticConfig,
    binance_file_name,
    generate_day,
    has_header,
    iter_days,
    sha256_file,
    time_unit,
    to_binance_csv,
    write_binance_files,
    write_csv,
    write_parquet,
)

DATA = Path(__file__).parent / "data"
N = 40_000
DAY_US = 86_400_000_000

SPOT_LINE = re.compile(r"\d+,\d+\.\d{8},\d+\.\d{8},\d+\.\d{8},(\d+),(True|False),True")
# Futures: shortest decimals, at least one fractional digit, no trailing zero unless the fraction is exactly ".0".
_UM_DEC = r"\d+\.(?:0|\d*[1-9])"
UM_LINE = re.compile(rf"\d+,{_UM_DEC},{_UM_DEC},{_UM_DEC},(\d+),(true|false)")
UM_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker"
SPOT_NAMES = ["trade_id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"]
TYPES: dict[str, pa.DataType] = {
    "trade_id": pa.int64(),
    "price": pa.float64(),
    "qty": pa.float64(),
    "quote_qty": pa.float64(),
    "time": pa.int64(),
    "is_buyer_maker": pa.bool_(),
    "is_best_match": pa.bool_(),
}


def _day_us(day: datetime.date) -> int:
    return (day - datetime.date(1970, 1, 1)).days * DAY_US


def _read_csv(data: bytes | Path, market: str, unit: str) -> pa.Table:
    """Parse Binance CSV text into the generator's table layout (time in µs)."""
    source: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    if market == "spot":
        read = pacsv.ReadOptions(column_names=SPOT_NAMES)
    else:
        head = data[:2] if isinstance(data, bytes) else data.read_bytes()[:2]
        has_hdr = head == b"id"
        read = pacsv.ReadOptions(column_names=SPOT_NAMES[:6], skip_rows=1 if has_hdr else 0)
    table = pacsv.read_csv(source, read_options=read, convert_options=pacsv.ConvertOptions(column_types=TYPES))
    if market == "spot":
        assert all(table.column("is_best_match").to_pylist())
        table = table.drop_columns(["is_best_match"])
    if unit == "ms":
        table = table.set_column(4, "time", pa.array(table.column("time").to_numpy() * 1000))
    return table.cast(TRADE_SCHEMA)


@pytest.fixture(scope="module")
def day0() -> pa.Table:
    return generate_day(SyntheticConfig(trades_per_day=N, seed=1), 0)


# --- the generator -------------------------------------------------------------------------------------------------


def test_schema_and_row_count(day0: pa.Table) -> None:
    assert day0.schema == TRADE_SCHEMA
    assert day0.num_rows == N


def test_deterministic_per_seed_and_symbol() -> None:
    cfg = SyntheticConfig(trades_per_day=5_000, seed=3)
    assert generate_day(cfg, 0).equals(generate_day(cfg, 0))
    other_seed = generate_day(SyntheticConfig(trades_per_day=5_000, seed=4), 0)
    assert not other_seed.column("price").equals(generate_day(cfg, 0).column("price"))
    other_symbol = generate_day(SyntheticConfig(symbol="ETHUSDT", trades_per_day=5_000, seed=3), 0)
    assert not other_symbol.column("time").equals(generate_day(cfg, 0).column("time"))


def test_days_are_independent_and_continuous() -> None:
    cfg = SyntheticConfig(trades_per_day=5_000, days=4, seed=9)
    days = list(iter_days(cfg))
    assert [d for d, _ in days] == [cfg.start + datetime.timedelta(days=k) for k in range(4)]
    # Day k alone equals day k of the sequence, and does not depend on cfg.days.
    assert generate_day(cfg, 3).equals(days[3][1])
    assert generate_day(SyntheticConfig(trades_per_day=5_000, days=10, seed=9), 2).equals(days[2][1])
    ids = np.concatenate([t.column("trade_id").to_numpy() for _, t in days])
    assert ids[0] == FIRST_TRADE_ID
    assert (np.diff(ids) == 1).all()
    for (_, prev), (_, cur) in itertools.pairwise(days):
        last, first = prev.column("price")[-1].as_py(), cur.column("price")[0].as_py()
        assert abs(first / last - 1) < 0.005  # the price continues across midnight


def test_ids_times_and_ties(day0: pa.Table) -> None:
    ids = day0.column("trade_id").to_numpy()
    t = day0.column("time").to_numpy()
    assert ids[0] == FIRST_TRADE_ID and (np.diff(ids) == 1).all()
    assert (np.diff(t) >= 0).all()
    start = _day_us(datetime.date(2025, 5, 1))
    assert t.min() >= start and t.max() < start + DAY_US
    tied = np.diff(t) == 0
    assert 0.25 < tied.mean() < 0.8  # several fills of one taker order share a microsecond
    bm = day0.column("is_buyer_maker").to_numpy()
    assert (bm[1:][tied] == bm[:-1][tied]).mean() > 0.97  # ...and a side
    assert 0.3 < bm.mean() < 0.7


def test_sweeps_move_price_away_from_the_taker(day0: pa.Table) -> None:
    t = day0.column("time").to_numpy()
    p = day0.column("price").to_numpy()
    bm = day0.column("is_buyer_maker").to_numpy()
    same = (np.diff(t) == 0) & (bm[1:] == bm[:-1])
    step = np.diff(p)[same]
    taker_buy = ~bm[1:][same]
    assert (step[taker_buy] >= 0).all() and (step[~taker_buy] <= 0).all()
    assert (step != 0).mean() > 0.1


def test_ticks_sizes_and_exact_quote(day0: pa.Table) -> None:
    price = day0.column("price").to_numpy()
    qty = day0.column("qty").to_numpy()
    quote = day0.column("quote_qty").to_numpy()
    cents = np.rint(price * 100).astype(np.int64)
    units = np.rint(qty * 1e5).astype(np.int64)
    assert (price > 0).all() and (cents / 100 == price).all()
    assert (units >= 1).all() and (units / 1e5 == qty).all()
    assert (quote == (cents * units) / 1e7).all()
    np.testing.assert_allclose(quote, price * qty, rtol=1e-9, atol=0)
    assert abs(np.median(price) / 60_000 - 1) < 0.1
    # Heavy tail: the largest trade is far above the median one.
    assert qty.max() / np.median(qty) > 100


def test_daily_cycle() -> None:
    start = _day_us(datetime.date(2025, 5, 1))
    for seed in range(3):
        t = generate_day(SyntheticConfig(trades_per_day=100_000, seed=seed), 0).column("time").to_numpy()
        hours = np.bincount((t - start) // 3_600_000_000, minlength=24)
        assert hours[12:18].sum() > 1.5 * hours[0:6].sum(), hours
        assert hours.max() > 2 * hours.min(), hours


# --- CSV text --------------------------------------------------------------------------------------------------------


def test_regexes_match_the_real_files() -> None:
    for name in ("BTCUSDT-trades-2025-01-01.csv", "BTCUSDT-trades-2021-01-02.csv"):
        lines = (DATA / name).read_text().splitlines()
        assert all(SPOT_LINE.fullmatch(line) for line in lines)
    lines = (DATA / "futures-BTCUSDT-trades-2026-09-16T20-00.csv").read_text().splitlines()
    assert all(UM_LINE.fullmatch(line) for line in lines)


def test_spot_csv_format(day0: pa.Table) -> None:
    text = to_binance_csv(day0, "spot", datetime.date(2025, 5, 1)).decode()
    assert text.endswith("\n") and "\r" not in text
    lines = text.splitlines()
    assert len(lines) == N
    matches = [SPOT_LINE.fullmatch(line) for line in lines]
    assert all(matches)
    assert {len(m.group(1)) for m in matches if m} == {16}  # µs from 2025-01-01
    assert {m.group(2) for m in matches if m} == {"True", "False"}


def test_um_csv_format() -> None:
    cfg = SyntheticConfig(trades_per_day=N, market="um", seed=2)
    table = generate_day(cfg, 0)
    lines = to_binance_csv(table, "um", cfg.start).decode().splitlines()
    assert lines[0] == UM_HEADER and len(lines) == N + 1
    matches = [UM_LINE.fullmatch(line) for line in lines[1:]]
    assert all(matches)
    assert {len(m.group(1)) for m in matches if m} == {13}  # always ms
    assert any(line.split(",")[1].endswith(".0") for line in lines[1:])
    # Before 2022-08-11 the futures daily files have no header.
    old = datetime.date(2022, 8, 10)
    assert not has_header("um", old)
    assert to_binance_csv(table.slice(0, 2), "um", old).count(b"\n") == 2


@pytest.mark.parametrize(
    ("market", "start", "units"),
    [
        ("spot", datetime.date(2024, 12, 31), ["ms", "us"]),
        ("um", datetime.date(2024, 12, 31), ["ms", "ms"]),
    ],
)
def test_time_unit_by_date(market: Any, start: datetime.date, units: list[str]) -> None:
    cfg = SyntheticConfig(trades_per_day=2_000, days=2, start=start, market=market)
    for (day, table), unit in zip(iter_days(cfg), units, strict=True):
        assert time_unit(market, day) == unit
        t = table.column("time").to_numpy()
        if unit == "ms":
            assert (t % 1000 == 0).all()  # the table holds exactly what the file can say
        else:
            assert (t % 1000 != 0).any()
        lines = to_binance_csv(table, market, day).decode().splitlines()[1 if market == "um" else 0 :]
        digits = {len(line.split(",")[4]) for line in lines}
        assert digits == {13 if unit == "ms" else 16}


@pytest.mark.parametrize(("market", "start"), [("spot", "2025-05-01"), ("spot", "2024-06-01"), ("um", "2025-05-01")])
def test_csv_round_trip_is_exact(market: Any, start: str) -> None:
    day = datetime.date.fromisoformat(start)
    cfg = SyntheticConfig(trades_per_day=N, market=market, start=day, seed=5)
    table = generate_day(cfg, 0)
    back = _read_csv(to_binance_csv(table, market, day), market, time_unit(market, day))
    assert back.equals(table)


@pytest.mark.parametrize(
    ("name", "market", "day"),
    [
        ("BTCUSDT-trades-2025-01-01.csv", "spot", datetime.date(2025, 1, 1)),
        ("BTCUSDT-trades-2021-01-02.csv", "spot", datetime.date(2021, 1, 2)),
        ("BTCUSDT-trades-2023-03-24.csv", "spot", datetime.date(2023, 3, 24)),
        ("futures-BTCUSDT-trades-2026-09-16T20-00.csv", "um", datetime.date(2026, 9, 16)),
    ],
)
def test_writer_reproduces_real_files_byte_for_byte(name: str, market: Any, day: datetime.date) -> None:
    raw = (DATA / name).read_bytes()
    table = _read_csv(raw, market, time_unit(market, day))
    text = to_binance_csv(table, market, day)
    if has_header(market, day):
        assert text.startswith(UM_HEADER.encode() + b"\n")
        text = text[len(UM_HEADER) + 1 :]  # the real slice was cut from the middle of the day
    assert text == raw


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(1, 10**8), st.integers(1, 10**7), st.booleans()),  # quote: <= 15 digits
        min_size=1,
        max_size=20,
    ),
    market=st.sampled_from(["spot", "um"]),
)
def test_decimals_are_exact(rows: list[tuple[int, int, bool]], market: Any) -> None:
    cents = np.array([r[0] for r in rows], dtype=np.int64)
    units = np.array([r[1] for r in rows], dtype=np.int64)
    table = pa.table(
        {
            "trade_id": pa.array(np.arange(len(rows), dtype=np.int64)),
            "price": pa.array(cents / 100),
            "qty": pa.array(units / 1e5),
            "quote_qty": pa.array((cents * units) / 1e7),
            "time": pa.array(np.full(len(rows), _day_us(datetime.date(2025, 5, 1)), dtype=np.int64)),
            "is_buyer_maker": [r[2] for r in rows],
        }
    )
    lines = to_binance_csv(table, market, datetime.date(2025, 5, 1)).decode().splitlines()
    if market == "um":
        lines = lines[1:]
    for line, c, u in zip(lines, cents.tolist(), units.tolist(), strict=True):
        fields = line.split(",")
        assert Decimal(fields[1]) == Decimal(c) / 100
        assert Decimal(fields[2]) == Decimal(u) / 10**5
        assert Decimal(fields[3]) == Decimal(c * u) / 10**7


def test_write_csv_to_path_equals_bytes(tmp_path: Path, day0: pa.Table) -> None:
    path = tmp_path / "x.csv"
    write_csv(day0, path, "spot", datetime.date(2025, 5, 1))
    assert path.read_bytes() == to_binance_csv(day0, "spot", datetime.date(2025, 5, 1))


def test_multi_chunk_table() -> None:
    cfg = SyntheticConfig(trades_per_day=1_000, days=2)
    table = pa.concat_tables([t for _, t in iter_days(cfg)])
    assert table.column("price").num_chunks == 2
    assert to_binance_csv(table, "spot", cfg.start) == to_binance_csv(table.combine_chunks(), "spot", cfg.start)


def test_chunked_parallel_writer_equals_single_chunk(monkeypatch: pytest.MonkeyPatch, day0: pa.Table) -> None:
    import daap.sources.synthetic as synthetic

    whole = to_binance_csv(day0, "spot", datetime.date(2025, 5, 1))
    monkeypatch.setattr(synthetic, "_CSV_CHUNK_ROWS", 7_001)
    assert to_binance_csv(day0, "spot", datetime.date(2025, 5, 1)) == whole
    monkeypatch.setattr(synthetic, "_CSV_WORKERS", 1)
    assert to_binance_csv(day0, "spot", datetime.date(2025, 5, 1)) == whole


# --- files -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("market", ["spot", "um"])
def test_zipped_files_like_binance(tmp_path: Path, market: Any) -> None:
    cfg = SyntheticConfig(trades_per_day=3_000, days=2, market=market, seed=11)
    seen: list[tuple[datetime.date, Path]] = []
    paths = write_binance_files(tmp_path / "out", cfg, progress=lambda d, p: seen.append((d, p)))
    names = ["BTCUSDT-trades-2025-05-01.zip", "BTCUSDT-trades-2025-05-02.zip"]
    assert [p.name for p in paths] == names
    assert seen == [(cfg.day(k), paths[k]) for k in range(2)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names + [n + ".CHECKSUM" for n in names])
    for k, path in enumerate(paths):
        checksum = (path.parent / (path.name + ".CHECKSUM")).read_text()
        assert checksum == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
        assert checksum.split()[0] == sha256_file(path)
        with zipfile.ZipFile(path) as zf:
            assert zf.namelist() == [path.name.replace(".zip", ".csv")]
            data = zf.read(zf.namelist()[0])
        assert data == to_binance_csv(generate_day(cfg, k), market, cfg.day(k))


def test_plain_csv_files(tmp_path: Path) -> None:
    cfg = SyntheticConfig(trades_per_day=3_000, days=2, seed=11, start=datetime.date(2024, 12, 31))
    paths = write_binance_files(tmp_path, cfg, zipped=False)
    assert [p.name for p in paths] == ["BTCUSDT-trades-2024-12-31.csv", "BTCUSDT-trades-2025-01-01.csv"]
    assert sorted(tmp_path.iterdir()) == paths  # no CHECKSUM, no temporary files left behind
    for k, path in enumerate(paths):
        back = _read_csv(path, "spot", time_unit("spot", cfg.day(k)))
        assert back.equals(generate_day(cfg, k))
    assert binance_file_name("ETHUSDT", cfg.start, zipped=False) == "ETHUSDT-trades-2024-12-31.csv"


def test_write_parquet(tmp_path: Path) -> None:
    cfg = SyntheticConfig(symbol="ETHUSDT", trades_per_day=4_000, days=2, start_price=3_000.0)
    path = write_parquet(tmp_path / "trades.parquet", cfg)
    assert sorted(tmp_path.iterdir()) == [path]
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    table = pq.read_table(path)
    assert table.schema == NORMALIZED_SCHEMA
    assert table.num_rows == 8_000
    assert set(table.column("symbol").to_pylist()) == {"ETHUSDT"}
    expected = pa.concat_tables([t for _, t in iter_days(cfg)])
    assert table.column("trade_id").equals(expected.column("trade_id"))
    assert table.column("price").equals(expected.column("price"))
    assert table.column("time").cast(pa.int64()).equals(expected.column("time"))


# --- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"symbol": "btcusdt"}, "symbol"),
        ({"symbol": "BTC/USDT"}, "symbol"),
        ({"start": datetime.datetime(2025, 5, 1)}, "start"),
        ({"start": "2025-05-01"}, "start"),
        ({"start": datetime.date(1969, 12, 31)}, "start"),
        ({"days": 0}, "days"),
        ({"days": 1.5}, "days"),
        ({"trades_per_day": 0}, "trades_per_day"),
        ({"trades_per_day": True}, "trades_per_day"),
        ({"market": "cm"}, "market"),
        ({"seed": -1}, "seed"),
        ({"start_price": 0.5}, "start_price"),
        ({"start_price": float("nan")}, "start_price"),
    ],
)
def test_config_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SyntheticConfig(**kwargs)


def test_day_index_validation() -> None:
    cfg = SyntheticConfig(trades_per_day=10, days=2)
    for bad in (-1, 2):
        with pytest.raises(ValueError, match="day_index"):
            generate_day(cfg, bad)
