"""Wire parsers: property tests against Python's own datetime/float, and broken market files named."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.adapters.alpaca.market import market_from_dir
from tradejet.adapters.alpaca.schemas import bar_day_ns, num, parse_time_ns
from tradejet.errors import DataError, ResponseError


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
       st.integers(0, 999_999_999), st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15))
def test_parse_time_ns_matches_datetime(dt, nanos, offset_min):
    tz = timezone(timedelta(minutes=offset_min))
    base = dt.replace(microsecond=0, tzinfo=tz)
    off = "Z" if offset_min == 0 else base.strftime("%z")[:3] + ":" + base.strftime("%z")[3:]
    text = base.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}" + off
    assert parse_time_ns(text, "e", "f") == int(base.timestamp()) * 1_000_000_000 + nanos


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_num_round_trips_decimal_strings(x):
    assert num(repr(x), "e", "f") == x


@pytest.mark.parametrize("text", ["", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00",
                                  "2024-01-01T00:00:00.1234567890Z"])
def test_bad_times_are_named(text):
    with pytest.raises(ResponseError, match="GET /v2/clock: field next_open"):
        parse_time_ns(text, "GET /v2/clock", "next_open")


@pytest.mark.parametrize("value", ["nan", "inf", "", "1,5", [1]])
def test_bad_numbers_are_named(value):
    with pytest.raises(ResponseError, match="GET /v2/positions: field qty"):
        num(value, "GET /v2/positions", "qty")


def test_daily_bar_stamp_is_the_session_date_at_midnight_utc():
    # Alpaca stamps daily bars at midnight New York (05:00Z in winter, 04:00Z in summer)
    def midnight(y, m, d):
        return int(datetime(y, m, d, tzinfo=timezone.utc).timestamp()) * 10**9
    assert bar_day_ns("2022-02-28T05:00:00Z", "e") == midnight(2022, 2, 28)
    assert bar_day_ns("2022-07-01T04:00:00Z", "e") == midnight(2022, 7, 1)


def test_market_files_broken_or_missing_are_named(tmp_path):
    with pytest.raises(DataError, match="no \\*_1d.csv files"):
        market_from_dir(tmp_path)
    (tmp_path / "SPY_1d.csv").write_text("timestamp,open,high,low,close,volume\n941414400,1,2,0.5,1.5,10\n")
    with pytest.raises(DataError, match=r"AAPL"):
        market_from_dir(tmp_path, ["SPY", "AAPL"])
    (tmp_path / "BAD_1d.csv").write_text("1,2,3\n")
    with pytest.raises(DataError, match="BAD_1d.csv"):
        market_from_dir(tmp_path)


def test_real_equity_files_replay(shared_data):
    d = shared_data / "equities"
    if not d.is_dir():
        pytest.skip(f"{d} not found")
    m = market_from_dir(d, ["SPY", "AAPL"])
    assert len(m.sessions) > 2000 and m.sessions[0].day.isoformat() == "1999-11-01"
    first = m.bars["SPY"][m.sessions[0].day]
    assert first == (136.5, 137.0, 135.5625, 135.5625, 4006500.0)
