"""Binance kline files (daap.klines): reading real rows, writing them back byte for byte, and reference klines."""

from __future__ import annotations

import ast
import datetime
import gzip
import hashlib
import inspect
import json
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import daap
from daap.download import KLINE_INTERVALS
from daap.errors import EmptyInputError, InputFormatError
from daap.klines import (
    FILE_COLUMNS,
    KLINE_COLUMNS,
    KLINE_HEADER,
    KLINES_SCHEMA,
    binance_interval,
    daap_interval,
    kline_file_name,
    klines_from_trades,
    parse_kline_file_name,
    read_klines,
    to_kline_csv,
    write_kline_files,
)
from daap.sources.binance import parse_checksum
from daap.sources.synthetic import SyntheticConfig, _decimal_text, _scaled8, iter_days, synthetic_klines
from tests.strategies import trades_frames

pytestmark = pytest.mark.pandas

DATA = Path(__file__).parent / "data"
KLINES = DATA / "klines"
SPOT_2025 = KLINES / "BTCUSDT-1m-2025-01-01.csv"
SPOT_2024 = KLINES / "BTCUSDT-1m-2024-01-01.csv"
SPOT_2023 = KLINES / "BTCUSDT-1m-2023-01-01.csv"
UM_2023 = KLINES / "um" / "BTCUSDT-1m-2023-01-01.csv"
UM_2020 = KLINES / "um" / "BTCUSDT-1d-2020-01.csv"
#: Official BTCUSDT spot 1d row of 2025-01-01 (from the monthly file BTCUSDT-1d-2025-01), as quoted in public code.
SPOT_1D_2025_01_01 = (
    "1735689600000000,93576.00000000,95151.15000000,92888.00000000,94591.79000000,10373.32613000,"
    "1735775999999999,975444194.13799830,1516556,5347.73648000,502914035.64059070,0\n"
)
MINUTE_US = 60_000_000
SUMS = ["volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def csv_rows(path: Path) -> list[list[str]]:
    """The data rows of a kline CSV as text fields, read with plain string operations."""
    lines = path.read_text().splitlines()
    return [line.split(",") for line in lines if line[0].isdigit()]


def check_against_text(k: pd.DataFrame, path: Path, unit_us: int) -> None:
    """Every value of the frame equals the file's text read independently (floats via Python's float)."""
    rows = csv_rows(path)
    assert len(k) == len(rows)
    for (_, got), row in zip(k.iterrows(), rows, strict=True):
        assert got["open_time"].value // 1_000 == int(row[0]) * unit_us
        assert got["close_time"].value // 1_000 == int(row[6]) * unit_us + (unit_us - 1)
        for name, i in [("open", 1), ("high", 2), ("low", 3), ("close", 4), ("volume", 5), ("quote_volume", 7)]:
            assert got[name] == float(row[i]), name
        assert got["trades"] == int(row[8])
        assert got["taker_buy_volume"] == float(row[9])
        assert got["taker_buy_quote_volume"] == float(row[10])


# ------------------------------------------------------------------------------------------------------------ names
def test_interval_names_map_the_month_only() -> None:
    for name in KLINE_INTERVALS:
        assert binance_interval(daap_interval(name)) == name
    assert binance_interval("1M") == "1mo"
    assert daap_interval("1mo") == "1M"
    assert {daap_interval(n) for n in KLINE_INTERVALS} - {"1M"} == set(KLINE_INTERVALS) - {"1mo"}
    with pytest.raises(ValueError, match=r"'2m'.*'1s', '1m', '3m'"):
        binance_interval("2m")
    with pytest.raises(ValueError, match="1mo"):
        daap_interval("1M")  # a daap name, not a file-path name
    with pytest.raises(ValueError, match="1M"):
        binance_interval("1mo")


def test_kline_file_names() -> None:
    assert kline_file_name("BTCUSDT", "1m", date=datetime.date(2025, 1, 1)) == "BTCUSDT-1m-2025-01-01.zip"
    assert kline_file_name("BTCUSDT", "1M", month="2025-01") == "BTCUSDT-1mo-2025-01.zip"
    assert kline_file_name("BTCUSDT", "1h", month=datetime.date(2024, 3, 9), zipped=False) == "BTCUSDT-1h-2024-03.csv"
    assert kline_file_name("ETHUSDT", "1s", date="2024-02-29", zipped=False) == "ETHUSDT-1s-2024-02-29.csv"
    for bad in [
        {"date": "2025-02-30"},
        {"month": "2025-13"},
        {},
        {"date": "2025-01-01", "month": "2025-01"},
        {"date": datetime.datetime(2025, 1, 1)},
    ]:
        with pytest.raises(ValueError):
            kline_file_name("BTCUSDT", "1m", **bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="symbol"):
        kline_file_name("btcusdt", "1m", date="2025-01-01")


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("BTCUSDT-1m-2025-01-01.zip", ("BTCUSDT", "1m")),
        ("BTCUSDT-1m-2025-01-01.csv", ("BTCUSDT", "1m")),
        ("BTCUSDT-1h-2024-03.zip", ("BTCUSDT", "1h")),
        ("BTCUSDT-1mo-2025-01.csv", ("BTCUSDT", "1M")),
        ("/x/y/ETHBTC-15m-2021-06-30.csv.gz", ("ETHBTC", "15m")),
        ("um-BTCUSDT-1d-2020-01.csv", ("BTCUSDT", "1d")),
        ("BTCUSD_PERP-1w-2023-12.zip", ("BTCUSD_PERP", "1w")),
        ("BTCUSDT-trades-2025-01-01.zip", None),
        ("BTCUSDT-2m-2025-01-01.zip", None),
        ("BTCUSDT-1m-2025-13-01.zip", None),
        ("BTCUSDT-1m-2025-01-01.zip.CHECKSUM", None),
        ("BTCUSDT-1m-2025-01-01.parquet", None),
    ],
)
def test_parse_kline_file_name(name: str, want: tuple[str, str] | None) -> None:
    assert parse_kline_file_name(name) == want


# ---------------------------------------------------------------------------------------------------------- reading
def test_spot_2025_microseconds() -> None:
    k = read_klines(SPOT_2025)
    assert list(k.columns) == ["symbol", "interval", *KLINE_COLUMNS] == KLINES_SCHEMA.names
    assert str(k["open_time"].dtype) == str(k["close_time"].dtype) == "datetime64[us, UTC]"
    assert str(k["trades"].dtype) == "int64"
    assert set(k["symbol"]) == {"BTCUSDT"} and set(k["interval"]) == {"1m"}
    check_against_text(k, SPOT_2025, unit_us=1)
    first = k.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"]) == (93576.0, 93610.93, 93537.5, 93610.93)
    assert (first["volume"], first["quote_volume"], first["trades"]) == (8.21827, 768978.7552247, 2631)
    assert first["close_time"] == ts("2025-01-01 00:00:59.999999")
    assert k["open_time"].tolist() == [ts("2025-01-01") + pd.Timedelta(minutes=i) for i in range(10)]


@pytest.mark.parametrize(
    ("path", "open_time", "trades"),
    [(SPOT_2024, "2024-01-01", 1327), (SPOT_2023, "2023-01-01", 2687)],
)
def test_spot_before_2025_milliseconds(path: Path, open_time: str, trades: int) -> None:
    k = read_klines(path)
    check_against_text(k, path, unit_us=1_000)
    assert k["open_time"].tolist() == [ts(open_time)]
    # The file's close_time ...59999 ms is the last µs of the minute, as in daap's candles.
    assert k["close_time"].tolist() == [ts(open_time) + pd.Timedelta(minutes=1) - pd.Timedelta(microseconds=1)]
    assert k["trades"].tolist() == [trades]


def test_futures_with_header() -> None:
    k = read_klines(UM_2023)
    check_against_text(k, UM_2023, unit_us=1_000)
    assert k[["open", "high", "low", "close", "volume", "trades"]].values.tolist() == [
        [16537.5, 16538.0, 16534.3, 16538.0, 170.576, 946]
    ]
    assert k["close_time"].iloc[0] == ts("2023-01-01 00:00:59.999999")


def test_futures_without_header_daily_klines() -> None:
    k = read_klines(UM_2020)
    check_against_text(k, UM_2020, unit_us=1_000)
    assert k["interval"].tolist() == ["1d", "1d"]
    assert k["open_time"].tolist() == [ts("2020-01-01"), ts("2020-01-02")]
    assert k["close_time"].tolist() == [ts("2020-01-01 23:59:59.999999"), ts("2020-01-02 23:59:59.999999")]
    assert k["trades"].tolist() == [101871, 224747]


def test_zipped_and_gzipped_copies(tmp_path: Path) -> None:
    want = read_klines(SPOT_2025)
    z = tmp_path / "BTCUSDT-1m-2025-01-01.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(SPOT_2025, arcname="BTCUSDT-1m-2025-01-01.csv")
    pd.testing.assert_frame_equal(read_klines(z), want)
    g = tmp_path / "BTCUSDT-1m-2025-01-01.csv.gz"
    g.write_bytes(gzip.compress(SPOT_2025.read_bytes()))
    pd.testing.assert_frame_equal(read_klines(g), want)
    two = tmp_path / "BTCUSDT-1m-2025-01-02.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.csv", "x")
        zf.writestr("b.csv", "y")
    with pytest.raises(InputFormatError, match="exactly one CSV member"):
        read_klines(two)


def test_several_files_are_concatenated_and_sorted(tmp_path: Path) -> None:
    k = read_klines([SPOT_2025, SPOT_2023, SPOT_2024])
    assert k["open_time"].dt.year.tolist() == [2023, 2024, *[2025] * 10]
    assert k.index.tolist() == list(range(12))
    copy = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    copy.write_bytes(SPOT_2025.read_bytes())
    with pytest.raises(InputFormatError, match="is also in") as err:
        read_klines([SPOT_2025, copy])
    assert err.value.path == str(copy)


def test_symbol_and_interval_from_arguments(tmp_path: Path) -> None:
    anon = tmp_path / "klines.csv"
    anon.write_bytes(SPOT_2025.read_bytes())
    with pytest.raises(InputFormatError, match="pass symbol= and interval=") as err:
        read_klines(anon)
    assert err.value.path == str(anon)
    k = read_klines(anon, symbol="XBTUSD", interval="1m")
    assert set(k["symbol"]) == {"XBTUSD"}
    pd.testing.assert_frame_equal(k.drop(columns="symbol"), read_klines(SPOT_2025).drop(columns="symbol"))
    # An interval that does not match the file's rows is caught by the close_time check.
    with pytest.raises(InputFormatError, match="does not close the 5m bucket") as err:
        read_klines(SPOT_2025, interval="5m")
    assert (err.value.line, err.value.column) == (1, "close_time")


def test_official_1d_row_counts_the_whole_days_trades(tmp_path: Path) -> None:
    month = tmp_path / "BTCUSDT-1d-2025-01.csv"
    month.write_text(SPOT_1D_2025_01_01)
    k = read_klines(month)
    provenance = json.loads((DATA / "BTCUSDT-trades-2025-01-01.provenance.json").read_text())
    assert int(k["trades"].iloc[0]) == provenance["official_row_count"] == 1_516_556
    assert k["close_time"].iloc[0] == ts("2025-01-01 23:59:59.999999")
    # Its open, 93576.0, is the first trade of the day, as in the 1m row.
    assert k["open"].iloc[0] == read_klines(SPOT_2025)["open"].iloc[0]


def test_monthly_klines_use_the_calendar_month(tmp_path: Path) -> None:
    f = tmp_path / "BTCUSDT-1mo-2024-02.csv"
    f.write_text("1706745600000,1,2,0.5,1.5,10,1709251199999,15,3,4,6,0\n")  # February 2024: 29 days
    k = read_klines(f)
    assert k["interval"].tolist() == ["1M"]
    assert k["close_time"].tolist() == [ts("2024-02-29 23:59:59.999999")]


# ----------------------------------------------------------------------------------------------------------- errors
def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _with_line(path: Path, number: int, edit: str) -> str:
    lines = _lines(path)
    lines[number - 1] = edit
    return "\n".join(lines) + "\n"


def _field(path: Path, number: int, column: str, value: str) -> str:
    fields = _lines(path)[number - 1].split(",")
    fields[FILE_COLUMNS.index(column)] = value
    return _with_line(path, number, ",".join(fields))


def _swap(path: Path, a: int, b: int) -> str:
    lines = _lines(path)
    lines[a - 1], lines[b - 1] = lines[b - 1], lines[a - 1]
    return "\n".join(lines) + "\n"


_L3 = _lines(SPOT_2025)[2]
_L5_OPEN = int(_lines(SPOT_2025)[4].split(",")[0])
_UM_ROW = _lines(UM_2023)[1]

BAD_FILES = {
    "11 columns": (_with_line(SPOT_2025, 3, _L3.rsplit(",", 1)[0]), 3, None, "expected 12 columns"),
    "13 columns": (_with_line(SPOT_2025, 3, _L3 + ",0"), 3, None, "expected 12 columns"),
    "non-numeric price": (_field(SPOT_2025, 2, "high", "93652.0x"), 2, "high", "expected a number, got '93652.0x'"),
    "empty price": (_field(SPOT_2025, 6, "low", ""), 6, "low", "expected a number"),
    "fractional count": (_field(SPOT_2025, 4, "count", "1461.5"), 4, "count", "expected an integer"),
    "close_time": (
        _field(SPOT_2025, 4, "close_time", "1735689840000000"),
        4,
        "close_time",
        "close_time 1735689840000000 does not close the 1m bucket opened at 1735689780000000: "
        "expected 1735689839999999",
    ),
    "ms close_time": (
        _field(SPOT_2024, 1, "close_time", "1704067260000"),
        1,
        "close_time",
        "expected 1704067259999",
    ),
    "off the grid": (
        _field(SPOT_2025, 5, "open_time", str(_L5_OPEN + 1_000_000)),
        5,
        "open_time",
        "(2025-01-01 00:04:01 UTC) is not on the 1m grid",
    ),
    "not increasing": (_swap(SPOT_2025, 6, 7), 7, "open_time", "is not after the previous row's 1735689960000000"),
    "repeated": (_with_line(SPOT_2025, 7, _lines(SPOT_2025)[5]), 7, "open_time", "is not after"),
    "unit change": (
        _field(SPOT_2025, 8, "open_time", "1735690020000"),
        8,
        "open_time",
        "is not in microseconds like the file's first row",
    ),
    "implausible": (_field(SPOT_2023, 1, "open_time", "16725312"), 1, "open_time", "neither milliseconds nor"),
    "negative volume": (_field(SPOT_2025, 9, "volume", "-1.0"), 9, "volume", "non-negative finite"),
    "nan": (_field(SPOT_2025, 10, "taker_buy_quote_volume", "nan"), 10, "taker_buy_quote_volume", "finite"),
    "blank line": ("\n".join([*_lines(SPOT_2025)[:4], "", *_lines(SPOT_2025)[4:]]) + "\n", 5, None, "empty line"),
    "unknown header": (
        "open_time,open,high,low,close,volume,close_time,quote_volume,trades,taker_buy_volume,"
        "taker_buy_quote_volume,ignore\n" + _UM_ROW + "\n",
        1,
        None,
        "unrecognized header",
    ),
    "error after a header": (
        KLINE_HEADER + "\n" + _UM_ROW.replace(",946,", ",nine,") + "\n",
        2,
        "count",
        "expected an integer, got 'nine'",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_errors_name_file_line_and_column(tmp_path: Path, case: str) -> None:
    text, line, column, reason = BAD_FILES[case]
    path = tmp_path / ("BTCUSDT-1m-2023-01-01.csv" if "header" in case else "BTCUSDT-1m-2025-01-01.csv")
    path.write_text(text)
    with pytest.raises(InputFormatError) as err:
        read_klines(path)
    e = err.value
    assert (e.path, e.line, e.column) == (str(path), line, column), e
    assert reason in e.reason
    assert str(path) in str(e) and f"line {line}" in str(e)


@pytest.mark.parametrize("text", ["", "\n\n", KLINE_HEADER + "\n"])
def test_empty_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(text)
    with pytest.raises(EmptyInputError, match="no kline rows") as err:
        read_klines(path)
    assert err.value.path == str(path)


def test_error_in_a_zip_names_the_zip(tmp_path: Path) -> None:
    z = tmp_path / "BTCUSDT-1m-2025-01-01.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("BTCUSDT-1m-2025-01-01.csv", BAD_FILES["non-numeric price"][0])
    with pytest.raises(InputFormatError) as err:
        read_klines(z)
    assert (err.value.path, err.value.line, err.value.column) == (str(z), 2, "high")


# ---------------------------------------------------------------------------------------------------------- writing
@pytest.mark.parametrize(
    ("path", "market", "options"),
    [
        (SPOT_2025, "spot", {}),
        (SPOT_2024, "spot", {}),
        (SPOT_2023, "spot", {}),
        (UM_2023, "um", {"decimals": (2, 3, 5)}),
        (UM_2020, "um", {"decimals": (2, 3, 5), "header": False}),
    ],
)
def test_written_text_is_the_official_text(path: Path, market: str, options: dict[str, object]) -> None:
    assert to_kline_csv(read_klines(path), market, **options) == path.read_bytes()  # type: ignore[arg-type]


def test_official_day_row_with_17_significant_digits_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1d-2025-01.csv"
    path.write_text(SPOT_1D_2025_01_01)
    assert to_kline_csv(read_klines(path), "spot").decode() == SPOT_1D_2025_01_01


def test_futures_default_is_the_shortest_text() -> None:
    k = read_klines(UM_2023)
    assert to_kline_csv(k, "um").decode().splitlines() == [
        KLINE_HEADER,
        "1672531200000,16537.5,16538.0,16534.3,16538.0,170.576,1672531259999,2820697.4558,946,103.782,1716164.8059,0",
    ]
    # A spot frame of 2025 written as futures: milliseconds, shortest decimals.
    spot = read_klines(SPOT_2025).head(1)
    assert to_kline_csv(spot, "um", header=False) == (
        b"1735689600000,93576.0,93610.93,93537.5,93610.93,8.21827,1735689659999,768978.7552247,2631,3.95157,"
        b"369757.3265289,0\n"
    )
    # The spot unit follows the first open_time: milliseconds before 2025.
    assert to_kline_csv(read_klines(SPOT_2024), "spot").startswith(b"1704067200000,")


def test_writer_refusals() -> None:
    k = read_klines(SPOT_2025)
    with pytest.raises(ValueError, match="market"):
        to_kline_csv(k, "cm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no header"):
        to_kline_csv(k, "spot", header=True)
    with pytest.raises(ValueError, match=r"volume value 8\.21827 has more than 3 decimals"):
        to_kline_csv(k, "um", decimals=(2, 3, 5))  # 8.21827 BTC needs 5
    with pytest.raises(ValueError, match="missing"):
        to_kline_csv(k.drop(columns="volume"), "spot")
    with pytest.raises(ValueError, match="non-negative"):
        to_kline_csv(k.assign(volume=-1.0), "spot")
    with pytest.raises(ValueError, match="whole-ms"):
        to_kline_csv(k.assign(open_time=k["open_time"] + pd.Timedelta(microseconds=1)), "um")
    assert to_kline_csv(k.head(0), "spot") == b""
    assert to_kline_csv(k.head(0), "um") == KLINE_HEADER.encode() + b"\n"


_SIG15 = st.integers(0, 10**15 - 1)


@st.composite
def eight_decimal_values(draw: st.DrawFn) -> float:
    """Decimals with at most 8 fractional digits and 15 significant digits, below 1e15, as their nearest double."""
    digits = draw(st.integers(0, 8))
    units = draw(_SIG15)
    return float(Decimal(units).scaleb(-digits))


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.tuples(*[eight_decimal_values()] * 8), min_size=1, max_size=5),
    counts=st.lists(st.integers(0, 10**9), min_size=5, max_size=5),
    market=st.sampled_from(["spot", "um"]),
    start=st.sampled_from(["2023-06-30 23:58", "2025-02-28 23:58"]),
)
def test_round_trip_is_bit_exact(values: list[tuple[float, ...]], counts: list[int], market: str, start: str) -> None:
    n = len(values)
    cols = np.array(values, dtype=np.float64).T
    opens = pd.date_range(ts(start), periods=n, freq="1min").astype("datetime64[us, UTC]")
    frame = pd.DataFrame(
        {
            "symbol": "BTCUSDT",
            "interval": "1m",
            "open_time": opens,
            "open": cols[0],
            "high": cols[1],
            "low": cols[2],
            "close": cols[3],
            "volume": cols[4],
            "close_time": (opens + pd.Timedelta(minutes=1) - pd.Timedelta(microseconds=1)).astype(opens.dtype),
            "quote_volume": cols[5],
            "trades": np.array(counts[:n], dtype=np.int64),
            "taker_buy_volume": cols[6],
            "taker_buy_quote_volume": cols[7],
        }
    )
    text = to_kline_csv(frame, market)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "BTCUSDT-1m-2025-01-01.csv"
        path.write_bytes(text)
        back = read_klines(path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    # Below 1e10 the decimals are the synthetic trades writer's text (8 digits for spot, shortest for futures).
    fields = [line.split(b",") for line in text.splitlines() if line[:1].isdigit()]
    for j, i in enumerate([1, 2, 3, 4, 5, 7, 9, 10]):
        if (cols[j] < 1e10).all():
            want = _decimal_text(_scaled8(pa.chunked_array([pa.array(cols[j])])), market).to_pylist()  # type: ignore[arg-type]
            assert [f[i].decode() for f in fields] == want


# ------------------------------------------------------------------------------------------------ reference klines
def test_klines_from_real_trades_match_the_fixture() -> None:
    trades = daap.read_trades(DATA / "BTCUSDT-trades-2025-01-01.csv")
    mine = klines_from_trades(trades, "1m")
    assert len(mine) == 11  # 00:00-00:10, the last one partial
    want = read_klines(SPOT_2025)
    got = mine.head(10)
    exact = ["symbol", "interval", "open_time", "close_time", "open", "high", "low", "close", "trades"]
    pd.testing.assert_frame_equal(got[exact], want[exact], check_exact=True)
    for c in SUMS:
        np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-9, err_msg=c)
    # Written as a spot file, the rounded sums give back Binance's exact text.
    assert to_kline_csv(got, "spot") == SPOT_2025.read_bytes()


def test_klines_from_trades_fills_gaps_and_takes_arrow_tables() -> None:
    base = 1_735_689_600_000_000
    table = pa.table(
        {
            "trade_id": [3, 1, 2, 4],
            "price": [11.0, 10.0, 12.0, 9.0],
            "qty": [1.0, 2.0, 3.0, 4.0],
            "quote_qty": [11.0, 20.0, 36.0, 36.0],
            "time": pa.array([base, base, base + 5, base + 3 * MINUTE_US]).cast(pa.timestamp("us", tz="UTC")),
            "is_buyer_maker": [False, True, False, True],
        }
    )
    k = klines_from_trades(table, "1m", symbol="XUSDT")
    assert k["open_time"].tolist() == [ts("2025-01-01") + pd.Timedelta(minutes=i) for i in range(4)]
    # Ties in time are ordered by trade id: id 1 opens, id 2 (the later time) closes.
    assert k[["open", "high", "low", "close"]].values.tolist() == [
        [10.0, 12.0, 10.0, 12.0],
        [12.0, 12.0, 12.0, 12.0],
        [12.0, 12.0, 12.0, 12.0],
        [9.0, 9.0, 9.0, 9.0],
    ]
    assert k["trades"].tolist() == [3, 0, 0, 1]
    assert k["volume"].tolist() == [6.0, 0.0, 0.0, 4.0]
    assert k["taker_buy_volume"].tolist() == [4.0, 0.0, 0.0, 0.0]
    assert k["taker_buy_quote_volume"].tolist() == [47.0, 0.0, 0.0, 0.0]
    assert len(klines_from_trades(table, "1m", symbol="XUSDT", fill_gaps=False)) == 2
    assert klines_from_trades(table, "1h", symbol="XUSDT")["trades"].tolist() == [4]
    assert klines_from_trades(table.slice(0, 0), "1m", symbol="XUSDT").columns.tolist() == KLINES_SCHEMA.names
    with pytest.raises(ValueError, match="symbol="):
        klines_from_trades(table, "1m")
    with pytest.raises(ValueError, match="qty"):
        klines_from_trades(table.drop_columns(["qty"]), "1m", symbol="XUSDT")


def test_klines_from_trades_does_not_use_the_candle_engines() -> None:
    source = Path(inspect.getfile(klines_from_trades)).read_text()
    tree = ast.parse(source)
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not {m for m in imported if m and m.startswith(("daap.engines", "daap.candles", "daap._stitch"))}
    assert "CandleBuilder" not in source


@settings(max_examples=50, deadline=None)
@given(trades=trades_frames(max_rows=60), interval=st.sampled_from(["1m", "5m", "1h"]))
def test_klines_from_trades_equals_the_candle_builder(trades: pd.DataFrame, interval: str) -> None:
    mine = klines_from_trades(trades, interval)
    candles = daap.CandleBuilder(interval).build(trades)
    candles = candles.sort_values(["symbol", "open_time"], kind="stable").reset_index(drop=True)
    assert len(mine) == len(candles)
    exact = ["symbol", "interval", "open_time", "close_time", "open", "high", "low", "close", "trades"]
    pd.testing.assert_frame_equal(
        mine[exact], candles[exact].astype({"symbol": object, "interval": object}), check_exact=True
    )
    for c in SUMS:
        np.testing.assert_allclose(mine[c].to_numpy(), candles[c].to_numpy(), rtol=1e-9, atol=1e-12, err_msg=c)


# ------------------------------------------------------------------------------------------------------ kline files
def _verify_checksum(path: Path) -> None:
    digest, name = parse_checksum((path.parent / f"{path.name}.CHECKSUM").read_text())
    assert name == path.name
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (path.parent / f"{path.name}.CHECKSUM").read_text() == f"{digest}  {path.name}\n"


def test_write_daily_files(tmp_path: Path) -> None:
    k = synthetic_klines(SyntheticConfig(days=2, trades_per_day=3_000, start=datetime.date(2024, 12, 31)))
    paths = write_kline_files(tmp_path, k, market="spot")
    assert [p.name for p in paths] == ["BTCUSDT-1m-2024-12-31.zip", "BTCUSDT-1m-2025-01-01.zip"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in paths] + [f"{p.name}.CHECKSUM" for p in paths]
    )
    for p in paths:
        _verify_checksum(p)
        with zipfile.ZipFile(p) as zf:
            assert zf.namelist() == [p.name.replace(".zip", ".csv")]
            first = zf.read(zf.namelist()[0]).split(b",", 1)[0]
        assert len(first) == (13 if "2024" in p.name else 16)  # ms before 2025, µs from 2025
    back = read_klines(paths)
    exact = ["symbol", "interval", "open_time", "close_time", "open", "high", "low", "close", "trades"]
    pd.testing.assert_frame_equal(back[exact], k[exact], check_exact=True)
    for c in SUMS:
        np.testing.assert_allclose(back[c].to_numpy(), k[c].to_numpy(), rtol=1e-12, err_msg=c)
    for p, day in zip(paths, [datetime.date(2024, 12, 31), datetime.date(2025, 1, 1)], strict=True):
        assert read_klines(p)["open_time"].tolist() == k.loc[k["open_time"].dt.date == day, "open_time"].tolist()
    # The same klines give the same bytes (zip member times are the file's date, not the clock).
    again = write_kline_files(tmp_path / "again", k, market="spot")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


def test_write_monthly_files_for_futures(tmp_path: Path) -> None:
    cfg = SyntheticConfig(days=2, trades_per_day=2_000, start=datetime.date(2025, 1, 31), market="um")
    k = synthetic_klines(cfg, "1h")
    paths = write_kline_files(tmp_path, k, market="um", period="monthly")
    assert [p.name for p in paths] == ["BTCUSDT-1h-2025-01.zip", "BTCUSDT-1h-2025-02.zip"]
    for p in paths:
        _verify_checksum(p)
        with zipfile.ZipFile(p) as zf:
            text = zf.read(p.name.replace(".zip", ".csv")).decode()
        assert text.splitlines()[0] == KLINE_HEADER
        assert len(text.splitlines()[1].split(",")[0]) == 13  # futures: always ms
    back = read_klines(paths)
    assert len(back) == len(k) == 48
    assert back["trades"].sum() == 4_000
    pd.testing.assert_series_equal(back["open_time"], k["open_time"])
    month = k.assign(symbol="BTCUSDT", interval="1M", close_time=ts("2025-02-28 23:59:59.999999")).head(1)
    month["open_time"] = ts("2025-02-01")
    assert write_kline_files(tmp_path / "m", month, market="spot", period="monthly")[0].name == (
        "BTCUSDT-1mo-2025-02.zip"
    )


def test_drop_leaves_out_exactly_the_window(tmp_path: Path) -> None:
    k = synthetic_klines(SyntheticConfig(days=1, trades_per_day=5_000))
    window = (pd.Timestamp("2025-05-01 10:00"), datetime.datetime(2025, 5, 1, 10, 30, tzinfo=datetime.timezone.utc))
    paths = write_kline_files(tmp_path, k, market="spot", drop=[window])
    back = read_klines(paths)
    inside = (k["open_time"] >= ts("2025-05-01 10:00")) & (k["open_time"] < ts("2025-05-01 10:30"))
    assert int(inside.sum()) == 30
    pd.testing.assert_series_equal(back["open_time"], k.loc[~inside, "open_time"].reset_index(drop=True))
    assert back["open_time"].diff().max() == pd.Timedelta(minutes=31)
    # A window covering a whole day leaves that day without a file.
    k2 = synthetic_klines(SyntheticConfig(days=2, trades_per_day=2_000))
    day = [(ts("2025-05-01"), ts("2025-05-02"))]
    assert [p.name for p in write_kline_files(tmp_path / "x", k2, market="spot", drop=day)] == [
        "BTCUSDT-1m-2025-05-02.zip"
    ]
    with pytest.raises(ValueError, match="empty"):
        write_kline_files(tmp_path, k, market="spot", drop=[(ts("2025-05-02"), ts("2025-05-01"))])
    with pytest.raises(ValueError, match="one symbol"):
        write_kline_files(tmp_path, pd.concat([k, k.assign(symbol="ETHUSDT")]), market="spot")
    with pytest.raises(ValueError, match="period"):
        write_kline_files(tmp_path, k, market="spot", period="weekly")  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------------------- synthetic
def test_synthetic_klines_one_row_per_minute_across_days() -> None:
    cfg = SyntheticConfig(days=2, trades_per_day=1_500, seed=3)
    k = synthetic_klines(cfg)
    times = np.concatenate([t.column("time").to_numpy() for _, t in iter_days(cfg)])
    first, last = times.min() // MINUTE_US * MINUTE_US, times.max() // MINUTE_US * MINUTE_US
    assert k["open_time"].iloc[0].value // 1_000 == first
    assert k["open_time"].iloc[-1].value // 1_000 == last
    assert len(k) == (last - first) // MINUTE_US + 1
    assert (k["open_time"].diff().dropna() == pd.Timedelta(minutes=1)).all()
    assert int(k["trades"].sum()) == 3_000
    assert (k["trades"] == 0).any()  # quiet minutes are there, as gap rows
    quiet = k[k["trades"] == 0]
    assert (quiet[["open", "high", "low"]].to_numpy() == quiet[["close"]].to_numpy()).all()
    assert (quiet[SUMS] == 0).all().all()
    assert set(k["symbol"]) == {"BTCUSDT"} and set(k["interval"]) == {"1m"}
    pd.testing.assert_frame_equal(k, synthetic_klines(cfg))  # seeded
