from __future__ import annotations

import csv
import gzip
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tradejet.errors import DataError
from tradejet.io.importers import detect_format, import_files, read_file
from tradejet.io.store import BarStore

S = 1_000_000_000
M = 60 * S
T0 = 1_700_179_200  # 2023-11-17T00:00:00Z


def kraken_rows(n=5, start=T0, step=60):
    """Valid rows; the values depend on the timestamp only, so overlapping files agree."""
    out = []
    for i in range(n):
        t = start + i * step
        k = (t - T0) // 60
        out.append(f"{t},{100 + k}.0,{102 + k}.5,{99 + k}.5,{101 + k}.0,{1.5 + k},{3 + k}")
    return out


def write(path, lines, header=None):
    path.write_text("".join(f"{x}\n" for x in ([header] if header else []) + lines))
    return path


# -- Kraken OHLCVT -----------------------------------------------------------------------------

def test_kraken_ohlcvt_real_file(shared_data):
    p = read_file(shared_data / "crypto" / "kraken_ohlcvt" / "XBTUSD_60.csv")
    assert p.kind == "bars" and p.cols["ts"].size == 50_378
    assert p.cols["ts"][0] == 1_381_093_200 * S
    assert [p.cols[c][2] for c in ("open", "high", "low", "close", "volume", "trades")] == \
        [123.91, 123.91, 123.9, 123.9, 1.9916, 2.0]
    assert p.lines[:3].tolist() == [1, 2, 3]


def test_kraken_exponent_notation_and_missing_trades_column(tmp_path):
    f = write(tmp_path / "LUNA_1.csv", [f"{T0},4e-05,4.5E-05,3.9e-05,4.2e-05,1.2e+06", f"{T0 + 60},4.2e-05,4.2e-05,4.2e-05,4.2e-05,0"])
    p = read_file(f, "kraken")
    assert p.cols["high"].tolist() == [4.5e-05, 4.2e-05] and p.cols["volume"][0] == 1.2e6
    assert np.isnan(p.cols["trades"]).all()


def test_kraken_zip_archive_member_is_chosen_by_symbol_and_timeframe(shared_data, tmp_path):
    src = shared_data / "crypto" / "kraken_ohlcvt"
    z = tmp_path / "Kraken_OHLCVT.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(src / "XBTUSD_60.csv", "XBTUSD_60.csv")
        zf.write(src / "ETHUSD_1440.csv", "ETHUSD_1440.csv")
    store = BarStore(tmp_path / "store")
    r = import_files([z], store, symbol="XBT/USD", timeframe="1h")
    assert r.write.added == 50_378 and r.rejected == 0
    r = import_files([z], store, symbol="ETH/USD", timeframe="1d")
    assert r.write.added == 3_154
    direct = read_file(src / "ETHUSD_1440.csv")
    np.testing.assert_array_equal(store.read("kraken", "ETH/USD", "1d")["close"], direct.cols["close"])
    assert read_file(f"{z}:XBTUSD_60.csv", "kraken").cols["ts"].size == 50_378
    with pytest.raises(DataError, match="cannot tell which of the archive's 2 CSV files"):
        import_files([z], store, symbol="SOL/USD", timeframe="1d")
    with pytest.raises(DataError, match="no member 'nope.csv'"):
        read_file(f"{z}:nope.csv", "kraken")
    bad = write(tmp_path / "bad.zip", ["not a zip"])
    with pytest.raises(DataError, match="cannot open ZIP archive"):
        read_file(bad, "kraken")


def test_kraken_file_with_a_header_is_refused(tmp_path):
    f = write(tmp_path / "k.csv", kraken_rows(2), header="time,open,high,low,close,volume,count")
    with pytest.raises(DataError, match="has no header.*--format csv"):
        read_file(f, "kraken")


# -- trades ---------------------------------------------------------------------------------

def test_kraken_trade_history_aggregates_into_candles(shared_data, tmp_path):
    src = shared_data / "crypto" / "kraken_trades" / "BCHEUR.csv"
    raw = np.loadtxt(src, delimiter=",")
    store = BarStore(tmp_path)
    r = import_files([src], store, symbol="BCH/EUR", timeframe="1m")
    assert r.imported == 148 and r.rejected == 0
    got = store.read("kraken", "BCH/EUR", "1m")
    # brute force: group by minute
    minutes = (raw[:, 0] // 60).astype(np.int64)
    keys = np.unique(minutes)
    assert (got["ts"] // M).tolist() == keys.tolist()
    for k, m in enumerate(keys):
        g = raw[minutes == m]
        assert (got["open"][k], got["high"][k], got["low"][k], got["close"][k]) == \
            (g[0, 1], g[:, 1].max(), g[:, 1].min(), g[-1, 1])
        assert got["volume"][k] == pytest.approx(g[:, 2].sum(), rel=1e-12)
        assert got["trades"][k] == len(g)


def test_headered_trades_file_reproduces_the_5m_candles(shared_data, tmp_path):
    store = BarStore(tmp_path)
    src = shared_data / "crypto" / "kraken_trades" / "XBTUSDT_trades_2023-11-17_22.csv.gz"
    assert detect_format(src) == "kraken-trades"
    r = import_files([src], store, symbol="XBT/USDT", timeframe="5m")
    assert "26921 rows imported, 0 rejected" in r.summary()
    ref = pacsv.read_csv(shared_data / "crypto" / "kraken" / "XBTUSDT_5m_2023-11-17_22.csv")
    got = store.read("kraken", "XBT/USDT", "5m")
    np.testing.assert_array_equal(got["ts"], ref["timestamp"].to_numpy() * S)
    np.testing.assert_array_equal(got["close"], ref["close"].to_numpy())
    np.testing.assert_allclose(got["volume"], ref["volume"].to_numpy(), rtol=1e-14)


def test_bad_trades_are_quarantined_or_stop_strict(tmp_path):
    f = write(tmp_path / "T.csv", [f"{T0},10.0,1.0", f"{T0 + 5},-1.0,1.0", f"{T0 + 7},11.0,x", f"{T0 - 1},9.0,1.0",
                                   f"{T0 + 70},12.0,2.0"])
    store = BarStore(tmp_path / "s")
    r = import_files([f], store, symbol="A/B", timeframe="1m", fmt="kraken-trades")
    assert (r.imported, r.rejected) == (2, 3)
    assert r.files[0].counts == {"non-finite": 0, "price <= 0": 1, "volume < 0": 0, "ts backwards": 1,
                                 "unparseable": 1}
    with store.rejected_path("T.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(x["line"], x["reason"].split(":")[0]) for x in rows] == [("2", "price <= 0"), ("3", "unparseable"),
                                                                      ("4", "ts backwards")]
    with pytest.raises(DataError, match=r"T.csv: line 2: price must be > 0: price = -1.0"):
        import_files([f], BarStore(tmp_path / "s2"), symbol="A/B", timeframe="1m", fmt="kraken-trades", strict=True)


# -- generic CSV ------------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "stamps"), [
    ("timestamp,open,high,low,close,volume", [str(T0), str(T0 + 60)]),
    ("Time,Open,High,Low,Close,Volume", [str(T0 * 1000), str((T0 + 60) * 1000)]),
    ("DATE,O,H,L,C,VOL", ["2023-11-17T00:00:00Z", "2023-11-17T00:01:00Z"]),
    ("datetime,open,high,low,close,volume", ["2023-11-17T01:00:00+01:00", "2023-11-17T01:01:00+01:00"]),
    ("date,open,high,low,close,volume", ["2023-11-17 00:00:00", "2023-11-17 00:01:00"]),
    ("ts,open,high,low,close,volume", [str(T0 * 10**6), str((T0 + 60) * 10**6)]),
])
def test_generic_csv_timestamps_and_column_names(tmp_path, header, stamps):
    f = write(tmp_path / "g.csv", [f"{s},1,2,0.5,1.5,10" for s in stamps], header=header)
    assert detect_format(f) == "csv"
    p = read_file(f)
    assert p.cols["ts"].tolist() == [T0 * S, (T0 + 60) * S]
    assert p.cols["high"].tolist() == [2.0, 2.0] and p.lines.tolist() == [2, 3]
    assert np.isnan(p.cols["trades"]).all()


def test_generic_csv_gz_with_trades_and_extra_columns(tmp_path):
    f = tmp_path / "x.csv.gz"
    with gzip.open(f, "wt") as g:
        g.write("Close Time,timestamp,open,high,low,close,adj_close,volume,Trades\n")
        g.write(f"x,{T0},1,2,0.5,1.5,1.4,10,7\n")
    p = read_file(f)
    assert p.cols["close"].tolist() == [1.5] and p.cols["trades"].tolist() == [7.0]


def test_generic_csv_real_binance_gz(shared_data, tmp_path):
    src = shared_data / "crypto" / "binance" / "BTCUSDT_1h_2017-08_2022-10.csv.gz"
    store = BarStore(tmp_path)
    r = import_files([src], store, symbol="BTC/USDT", timeframe="1h", venue="binance")
    assert (r.imported, r.rejected) == (45_024, 0)
    assert store.info("binance", "BTC/USDT", "1h").gaps == sum(r.files[0].gaps for _ in [0])


def test_generic_csv_missing_column_is_named(tmp_path):
    f = write(tmp_path / "g.csv", [f"{T0},1,2,0.5,1.5"], header="timestamp,open,high,low,close")
    with pytest.raises(DataError, match=r"g.csv: line 1: no column for volume in the header"):
        read_file(f)


def test_iso_text_the_fast_path_refuses_is_parsed_per_row(tmp_path):
    f = write(tmp_path / "g.csv", ["2023-11-17T00:00:00Z,1,2,0.5,1.5,1", "2023-11-17T00:01:00,1,2,0.5,1.5,1",
                                   "yesterday,1,2,0.5,1.5,1"], header="time,open,high,low,close,volume")
    p = read_file(f)
    assert p.cols["ts"][:2].tolist() == [T0 * S, (T0 + 60) * S]
    assert p.notes == {2: "column ts value 'yesterday' is not a timestamp"}


# -- Parquet ---------------------------------------------------------------------------------

def test_parquet_with_arrow_timestamps(tmp_path):
    f = tmp_path / "b.parquet"
    t = pa.table({"Timestamp": pa.array([T0 * 1000, (T0 + 60) * 1000], pa.timestamp("ms", tz="UTC")),
                  "Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [0.5, 1.5], "Close": [1.5, 2.5], "Volume": [1, 2]})
    pq.write_table(t, f)
    assert detect_format(f) == "parquet"
    p = read_file(f)
    assert p.cols["ts"].tolist() == [T0 * S, (T0 + 60) * S] and p.cols["volume"].tolist() == [1.0, 2.0]
    r = import_files([f], BarStore(tmp_path / "s"), symbol="A/B", timeframe="1m")
    assert r.write.added == 2
    (tmp_path / "c.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_file(tmp_path / "c.parquet")


# -- broken files through the pipeline ----------------------------------------------------------

BROKEN = [  # (row text, reason, column, value as printed in the strict error)
    (f"{T0 + 60},nan,2,0.5,1.5,1,1", "non-finite", "open", "nan"),
    (f"{T0 + 60},1,2,0.5,inf,1,1", "non-finite", "close", "inf"),
    (f"{T0 + 60},1,2,-0.5,1.5,1,1", "price <= 0", "low", "-0.5"),
    (f"{T0 + 60},1,0.4,0.5,0.45,1,1", "high < low", "high", "0.4"),
    (f"{T0 + 60},3,2,0.5,1.5,1,1", "open outside [low, high]", "open", "3.0"),
    (f"{T0 + 60},1,2,0.5,0.1,1,1", "close outside [low, high]", "close", "0.1"),
    (f"{T0 + 60},1,2,0.5,1.5,-1,1", "volume < 0", "volume", "-1.0"),
    (f"{T0 - 60},1,2,0.5,1.5,1,1", "ts backwards", "ts", "2023-11-16T23:59:00Z"),
    (f"{T0},1,2,0.5,1.5,1,1", "duplicate ts", "ts", "2023-11-17T00:00:00Z"),
    (f"{T0 + 61},1,2,0.5,1.5,1,1", "ts off the timeframe grid", "ts", "2023-11-17T00:01:01Z"),
    (f"{T0 + 60},1,two,0.5,1.5,1,1", "unparseable", "high", "'two' is not a number"),
    (f"{T0 + 60},1,2", "unparseable", "-", "expected 7 fields, got 3"),
]


@pytest.mark.parametrize(("row", "reason", "column", "value"), BROKEN, ids=[f"{b[1]}-{b[2]}" for b in BROKEN])
def test_every_rule_with_a_broken_file(tmp_path, row, reason, column, value):
    f = write(tmp_path / "XBTUSD_1.csv", [kraken_rows(1)[0], row, *kraken_rows(2, start=T0 + 120)])
    with pytest.raises(DataError) as ei:
        import_files([f], BarStore(tmp_path / "strict"), symbol="XBT/USD", timeframe="1m", strict=True)
    e = ei.value
    assert e.source == str(f) and e.row == 2 and e.column == column
    assert str(e).startswith(f"{f}: line 2: ") and value in str(e)
    assert not (tmp_path / "strict" / "kraken").exists()  # strict: nothing written
    store = BarStore(tmp_path / "q")
    r = import_files([f], store, symbol="XBT/USD", timeframe="1m")
    assert (r.imported, r.rejected) == (3, 1)
    assert r.files[0].counts[reason] == 1
    assert r.summary().startswith(f"3 rows imported, 1 rejected ({reason}: 1")
    with store.rejected_path("XBTUSD_1.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["line"] == "2" and rows[0]["reason"].startswith(reason)
    assert rows[0]["source"] == str(f)
    assert store.read("kraken", "XBT/USD", "1m")["ts"].size == 3


def test_quarantine_counts_and_rejected_file_with_many_bad_rows(tmp_path):
    rows = kraken_rows(10)
    rows[2] = f"{T0 + 120},1,0.4,0.5,0.45,1,1"   # high < low (+ open/close outside)
    rows[5] = rows[4]                             # duplicate
    rows[7] = f"{T0 + 420},x,2,0.5,1.5,1,1"       # unparseable
    f = write(tmp_path / "in.csv", [*rows[:6], "", *rows[6:]])  # a blank line shifts the numbering
    store = BarStore(tmp_path / "s")
    r = import_files([f], store, symbol="A/B", timeframe="1m", fmt="kraken")
    assert (r.imported, r.rejected) == (7, 3)
    c = r.files[0].counts
    assert (c["high < low"], c["duplicate ts"], c["unparseable"], c["non-finite"]) == (1, 1, 1, 0)
    assert r.files[0].gaps == 3  # minutes 2, 5 and 7 are now missing: counted, not an error
    with store.rejected_path("in.csv").open() as fh:
        rej = list(csv.DictReader(fh))
    assert [x["line"] for x in rej] == ["3", "6", "9"]
    assert "not a number" in rej[2]["reason"]
    assert r.files[0].rejected_path == str(store.rejected_path("in.csv"))


def test_missing_empty_and_odd_inputs(tmp_path):
    store = BarStore(tmp_path / "s")
    with pytest.raises(DataError, match="nope.csv: cannot read file: No such file"):
        import_files([tmp_path / "nope.csv"], store, symbol="A/B", timeframe="1m")
    with pytest.raises(DataError, match="is a directory"):
        import_files([tmp_path], store, symbol="A/B", timeframe="1m")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match="file is empty"):
        import_files([tmp_path / "e.csv"], store, symbol="A/B", timeframe="1m")
    f = write(tmp_path / "w.csv", ["1,2,3,4"])
    with pytest.raises(DataError, match="cannot tell the format: first line has 4 fields"):
        import_files([f], store, symbol="A/B", timeframe="1m")
    with pytest.raises(DataError, match="timeframe must look like"):
        import_files([f], store, symbol="A/B", timeframe="1 fortnight")
    with pytest.raises(DataError, match="no input files"):
        import_files([], store, symbol="A/B", timeframe="1m")


def test_import_twice_is_idempotent_and_several_files_merge(tmp_path):
    a = write(tmp_path / "a.csv", kraken_rows(5))
    b = write(tmp_path / "b.csv", kraken_rows(5, start=T0 + 180))  # overlaps a by two identical bars
    store = BarStore(tmp_path / "s")
    assert import_files([a], store, symbol="A/B", timeframe="1m").write.added == 5
    assert import_files([a], store, symbol="A/B", timeframe="1m").write.added == 0
    r = import_files([a, b], store, symbol="A/B", timeframe="1m")
    assert (r.write.added, r.write.replaced, r.write.total) == (3, 0, 8)
    c = write(tmp_path / "c.csv", [f"{T0 + 60},7,8,6,7.5,1,1"])  # a corrected bar replaces the stored one
    r = import_files([c], store, symbol="A/B", timeframe="1m")
    assert (r.write.added, r.write.replaced, r.write.total) == (0, 1, 8)
    assert store.read("kraken", "A/B", "1m")["close"][1] == 7.5
