from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.errors import DataError
from tradejet.io.validate import (CLOSE_OUTSIDE, DUPLICATE, HIGH_LT_LOW, NEG_VOLUME, NON_FINITE, NON_POSITIVE,
                                  OFF_GRID, OPEN_OUTSIDE, TS_BACKWARDS, UNPARSEABLE, reason_text, validate_bars,
                                  write_rejected)

M = 60_000_000_000


def good(n=6):
    ts = np.arange(n, dtype=np.int64) * M
    return {"ts": ts, "open": np.full(n, 10.0), "high": np.full(n, 12.0), "low": np.full(n, 9.0),
            "close": np.full(n, 11.0), "volume": np.full(n, 5.0), "trades": np.full(n, 2.0)}


# (mutation of row 3, expected bit, column named in the strict error, value in the message)
CASES = [
    (("close", np.nan), NON_FINITE, "close", "nan"),
    (("volume", np.inf), NON_FINITE, "volume", "inf"),
    (("low", 0.0), NON_POSITIVE, "low", "0.0"),
    (("high", 8.0), HIGH_LT_LOW, "high", "8.0"),
    (("open", 13.0), OPEN_OUTSIDE, "open", "13.0"),
    (("close", 8.5), CLOSE_OUTSIDE, "close", "8.5"),
    (("volume", -1.0), NEG_VOLUME, "volume", "-1.0"),
    (("trades", -2.0), NEG_VOLUME, "trades", "-2.0"),
    (("ts", 1 * M), TS_BACKWARDS, "ts", "1970-01-01T00:01:00Z"),
    (("ts", 2 * M), DUPLICATE, "ts", "1970-01-01T00:02:00Z"),
    (("ts", 3 * M + 1), OFF_GRID, "ts", "1970-01-01T00:03:00.000000001Z"),
]


@pytest.mark.parametrize(("mutation", "bit", "column", "value"), CASES, ids=[reason_text(c[1]) + "-" + c[2] for c in CASES])
def test_each_rule_flags_the_row_and_strict_names_line_column_value(mutation, bit, column, value):
    cols = good()
    col, v = mutation
    cols[col] = cols[col].copy()
    cols[col][3] = v
    rep = validate_bars(cols, M, source="f.csv")
    assert np.flatnonzero(rep.reasons).tolist() == [3]
    assert rep.reasons[3] & bit
    assert rep.counts[reason_text(bit)] == 1 and rep.rejected == 1
    lines = np.arange(10, 16)
    with pytest.raises(DataError) as ei:
        validate_bars(cols, M, source="f.csv", lines=lines, strict=True)
    e = ei.value
    assert (e.source, e.row, e.column) == ("f.csv", 13, column)
    assert str(e).startswith("f.csv: line 13: ")
    assert value in str(e)


def test_order_checks_skip_rows_with_bad_values():
    cols = good(4)
    cols["close"] = cols["close"].copy()
    cols["close"][1] = np.nan
    cols["ts"] = np.array([0, M, M, 2 * M])  # row 2 repeats the ts of the NaN row
    rep = validate_bars(cols, M)
    assert rep.reasons.tolist() == [0, NON_FINITE, 0, 0]


def test_gaps_are_counted_not_rejected():
    cols = good(4)
    cols["ts"] = np.array([0, 1, 5, 9]) * M
    rep = validate_bars(cols, M)
    assert rep.rejected == 0 and rep.gaps == 6
    assert validate_bars(cols, None).gaps == 0


def test_importer_marks_are_kept_and_exclusive():
    cols = good(3)
    pre = np.array([0, UNPARSEABLE, 0], np.uint16)
    cols["open"][1] = np.nan
    rep = validate_bars(cols, M, pre=pre, notes={1: "column open value 'x' is not a number"})
    assert rep.reasons.tolist() == [0, UNPARSEABLE, 0]
    with pytest.raises(DataError, match="line 2: unparseable: column open value 'x'"):
        validate_bars(cols, M, pre=pre, notes={1: "column open value 'x' is not a number"}, strict=True, source="s")


def test_missing_or_misshaped_columns():
    cols = good(3)
    del cols["volume"]
    with pytest.raises(DataError, match="column volume is missing"):
        validate_bars(cols, M)
    cols = good(3)
    cols["close"] = np.ones(2)
    with pytest.raises(DataError, match="column close has 2 rows"):
        validate_bars(cols, M)
    with pytest.raises(DataError, match="ts must be int64"):
        validate_bars({**good(3), "ts": np.arange(3.0)}, M)


def test_rejected_file_has_a_reason_per_row(tmp_path):
    cols = good(5)
    cols["high"] = cols["high"].copy()
    cols["high"][1] = 1.0
    cols["volume"] = cols["volume"].copy()
    cols["volume"][4] = -3.0
    rep = validate_bars(cols, M)
    path = tmp_path / "rej" / "x.rejected.csv"
    assert write_rejected(path, cols, rep, np.arange(2, 7), "x.csv") == 2
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["line"], r["reason"]) for r in rows] == [
        ("3", "high < low; open outside [low, high]; close outside [low, high]"), ("6", "volume < 0")]
    assert rows[1]["volume"] == "-3.0" and rows[0]["ts"] == "1970-01-01T00:01:00Z"
    ok = validate_bars(good(3), M)
    assert write_rejected(path, good(3), ok, None, "x.csv") == 0 and not path.exists()


@given(st.lists(st.tuples(st.integers(1, 50), st.floats(1e-6, 1e6), st.floats(0, 1), st.floats(0, 1),
                          st.floats(0, 1), st.floats(0, 1e9)), max_size=80))
def test_any_well_formed_series_passes(rows):
    ts = np.cumsum([r[0] for r in rows]).astype(np.int64) * M
    lo = np.array([r[1] for r in rows])
    span = lo * np.array([r[2] for r in rows])
    hi = lo + span
    o = lo + span * np.array([r[3] for r in rows])
    c = lo + span * np.array([r[4] for r in rows])
    cols = {"ts": ts, "open": np.clip(o, lo, hi), "high": hi, "low": lo, "close": np.clip(c, lo, hi),
            "volume": np.array([r[5] for r in rows])}
    rep = validate_bars(cols, M, strict=True)
    assert rep.rejected == 0
    expect = int(sum(r[0] - 1 for r in rows[1:]))
    assert rep.gaps == expect
