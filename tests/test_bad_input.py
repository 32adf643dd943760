"""One example per class of bad input: a daap error that names the file, the line, the column and the reason."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import daap
from daap.errors import (
    EmptyInputError,
    ImplausibleTimestampError,
    InputFormatError,
    UnsafeArchiveError,
)

GOOD = "4359935386,93576.00000000,0.00136000,127.26336000,1735689600010866,True,True\n"
NAME = "BTCUSDT-trades-2025-01-01.csv"


def write(tmp_path: Path, text: str, name: str = NAME) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_non_numeric_field(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD * 3 + "4359935390,93576.00000000,abc,127.26336000,1735689600010866,True,True\n")
    with pytest.raises(InputFormatError) as err:
        daap.read_trades(p)
    e = err.value
    assert (e.path, e.line, e.column) == (str(p), 4, "qty")
    assert str(e) == f"{p}, line 4, column 'qty': expected a number, got 'abc'"


def test_empty_field_is_not_silently_null(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD + "4359935390,,0.1,127.26336000,1735689600010866,True,True\n")
    with pytest.raises(InputFormatError, match=r"line 2, column 'price': expected a number, got ''"):
        daap.read_trades(p)


def test_wrong_column_count(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD * 2 + "4359935390,93576.0,0.1,1735689600010866,True\n" + GOOD)
    with pytest.raises(InputFormatError) as err:
        daap.read_trades(p)
    assert err.value.line == 3
    assert "expected 7 columns (spot trades), got 5" in str(err.value)


def test_wrong_column_count_on_line_one(tmp_path: Path) -> None:
    p = write(tmp_path, "1,2,3\n")
    want = r"line 1: expected 7 columns \(spot trades\), 6 \(USD-M futures trades\) or 8/7 \(aggTrades\), got 3"
    with pytest.raises(InputFormatError, match=want):
        daap.read_trades(p)


def test_bad_line_deep_in_a_later_block_has_the_right_line_number(tmp_path: Path) -> None:
    rows = [GOOD.replace("4359935386", str(4359935386 + i)) for i in range(5000)]
    rows[4321] = rows[4321].replace("True,True", "maybe,True")
    p = write(tmp_path, "".join(rows))
    with pytest.raises(InputFormatError) as err:
        daap.CandleBuilder("1m").build_files([p], tmp_path / "out.parquet", block_bytes=4096)
    assert (err.value.line, err.value.column) == (4322, "is_buyer_maker")
    assert "expected True/False, got 'maybe'" in str(err.value)
    assert not (tmp_path / "out.parquet").exists()  # nothing half-written becomes visible
    assert [f.name for f in tmp_path.iterdir()] == [NAME]


@pytest.mark.parametrize("text", ["", "\n\n", "id,price,qty,quote_qty,time,is_buyer_maker\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(EmptyInputError, match=r"no trade rows \(empty file\)") as err:
        daap.read_trades(p)
    assert err.value.path == str(p)


@pytest.mark.parametrize("value", ["123456", "99999999999999999", "-1735689600010866"])
def test_implausible_timestamp(tmp_path: Path, value: str) -> None:
    p = write(tmp_path, GOOD * 2 + GOOD.replace("1735689600010866", value))
    with pytest.raises(ImplausibleTimestampError) as err:
        daap.read_trades(p)
    e = err.value
    assert (e.line, e.column) == (3, "time")
    assert f"implausible trade time {value}" in str(e)


def test_mixed_time_units_are_handled_per_value(tmp_path: Path) -> None:
    ms = GOOD.replace("4359935386", "4359935387").replace("1735689600010866", "1735689600011")
    df = daap.read_trades(write(tmp_path, GOOD + ms))
    assert df["time"].astype("int64").tolist() == [1735689600010866, 1735689600011000]


def test_non_positive_price(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD + GOOD.replace("93576.00000000", "-1.5"))
    with pytest.raises(InputFormatError, match=r"line 2, column 'price': price must be a positive finite number"):
        daap.read_trades(p)


def test_unknown_header(tmp_path: Path) -> None:
    p = write(tmp_path, "a,b,c\n1,2,3\n")
    with pytest.raises(InputFormatError, match=r"line 1: unrecognized header 'a,b,c'"):
        daap.read_trades(p)


def test_symbol_must_be_known(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD, name="trades.csv")
    with pytest.raises(InputFormatError, match="cannot tell the symbol"):
        daap.read_trades(p)
    assert daap.read_trades(p, symbol="ETHUSDT")["symbol"].tolist() == ["ETHUSDT"]


def test_zip_with_two_members_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr(NAME, GOOD)
        zf.writestr("extra.csv", GOOD)
    with pytest.raises(UnsafeArchiveError, match="exactly one CSV member, this one holds 2"):
        daap.read_trades(p)


@pytest.mark.parametrize("member", ["../evil.csv", "sub/dir.csv", "/abs.csv"])
def test_zip_member_with_a_path_is_refused(tmp_path: Path, member: str) -> None:
    p = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr(zipfile.ZipInfo(member), GOOD)
    with pytest.raises(UnsafeArchiveError, match="unsafe path"):
        daap.read_trades(p)
    assert not (tmp_path.parent / "evil.csv").exists()


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(NAME, GOOD + "0" * (64 << 20))
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        daap.read_trades(p)


def test_truncated_zip(tmp_path: Path) -> None:
    rows = "".join(GOOD.replace("4359935386", str(4359935386 + i)) for i in range(20000))
    p = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(NAME, rows)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(InputFormatError, match="not a readable zip archive") as err:
        daap.read_trades(p)
    assert err.value.path == str(p)


def test_missing_file() -> None:
    with pytest.raises(InputFormatError, match="no such file"):
        daap.read_trades("nope/BTCUSDT-trades-2025-01-01.csv")


def test_frame_missing_columns() -> None:
    import pandas as pd

    with pytest.raises(InputFormatError, match=r"missing trade column\(s\) \['qty'"):
        daap.CandleBuilder("1m").build(pd.DataFrame({"symbol": ["X"], "trade_id": [1], "price": [1.0]}))


def test_blank_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD + "\n" + GOOD.replace("4359935386", "4359935387"))
    with pytest.raises(InputFormatError, match=r"line 2: empty line in the middle of the data"):
        daap.read_trades(p)


def test_crlf_and_trailing_blank_lines_are_fine(tmp_path: Path) -> None:
    second = GOOD.replace("4359935386", "4359935387")
    p = write(tmp_path, (GOOD + second).replace("\n", "\r\n") + "\r\n\r\n")
    assert daap.read_trades(p)["trade_id"].tolist() == [4359935386, 4359935387]


@pytest.mark.parametrize(("column", "value"), [("price", float("nan")), ("qty", float("inf")), ("price", 0.0)])
def test_parquet_with_non_finite_or_zero_values(tmp_path: Path, column: str, value: float) -> None:
    import numpy as np

    df = daap.read_trades("tests/data/BTCUSDT-trades-2021-01-02.csv")
    df.loc[17, column] = value
    p = tmp_path / "BTCUSDT-trades-2021-01-02.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    i = table.schema.get_field_index(column)
    table = table.set_column(i, column, pa.array(df[column].to_numpy()))  # NaN stays NaN, not null
    pq.write_table(table, p)
    with pytest.raises(InputFormatError, match=rf"column '{column}': {column} must be a positive finite number"):
        daap.CandleBuilder("1m").build_files([p], tmp_path / "out.parquet")
    assert np.isfinite(df.drop(index=17)[column]).all()


def test_corrupt_deflate_data_in_a_zip(tmp_path: Path) -> None:
    rows = "".join(GOOD.replace("4359935386", str(4359935386 + i)) for i in range(20000))
    p = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(NAME, rows)
    data = bytearray(p.read_bytes())
    mid = len(data) // 3
    data[mid : mid + 64] = bytes(64)  # damage the deflate stream, keep the archive structure
    p.write_bytes(bytes(data))
    with pytest.raises(InputFormatError, match="corrupt or truncated compressed data") as err:
        daap.read_trades(p)
    assert err.value.path == str(p)


def test_stored_zip_member_reads_too(tmp_path: Path) -> None:
    p = tmp_path / "BTCUSDT-trades-2025-01-01.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(NAME, GOOD)
    assert daap.read_trades(p)["trade_id"].tolist() == [4359935386]
