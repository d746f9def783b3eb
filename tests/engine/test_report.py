"""The backtest report: files, schema, atomic write, and the page rendered in a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess

import msgspec
import numpy as np
import pyarrow.parquet as pq
import pytest

from tradejet.engine.report import (
    BacktestReport,
    ReportSeries,
    RunFigures,
    TradeTable,
    _downsample_index,
    report_schema,
    write_report,
)
from tradejet.errors import ConfigError, DataError

HOUR = 3_600_000_000_000


def _series(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    ts = 1_600_000_000_000_000_000 + np.arange(n, dtype=np.int64) * HOUR
    price = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0.0002, 0.004, n)))
    regime = np.repeat(np.array([0, 1, 2, 3, 1], np.int8), n // 5 + 1)[:n]
    k = 40
    entry = np.sort(rng.choice(n - 10, k, replace=False))
    trades = TradeTable(
        entry_ts=ts[entry], exit_ts=ts[entry + 5], symbol=["BTC/USD" if i % 2 else "ETH/USD" for i in range(k)],
        side=np.ones(k, np.int8), qty=np.full(k, 0.5), entry_price=price[entry], exit_price=price[entry + 5],
        pnl=(price[entry + 5] - price[entry]) * 0.5, fees=np.full(k, 0.1),
        strategy=["trend_following" if i % 3 else "breakout" for i in range(k)],
        regime=["RISK_ON"] * k)
    return ReportSeries(ts=ts, equity=equity, price=price, regime=regime, proxy_symbol="BTC/USD", trades=trades,
                        cash=equity * 0.5)


def _report(s):
    return BacktestReport(
        title="tradejet backtest: synthetic", system="crypto", start_ts=int(s.ts[0]), end_ts=int(s.ts[-1]),
        symbols=["BTC/USD", "ETH/USD"], metrics={"total_return": float(s.equity[-1] / s.equity[0] - 1),
                                                 "sharpe": 1.23, "max_drawdown": -0.12, "trades": 40, "cagr": None},
        run=RunFigures(bars=s.ts.size, symbols=2, elapsed_s=0.5, compile_s=1.5, bar_steps_per_s=20000.0),
        config={"system": "crypto"},
        by_strategy={"trend_following": {"pnl": 120.0, "trades": 26}, "breakout": {"pnl": -35.5, "trades": 14}},
        by_pair={"BTC/USD": {"pnl": 50.0}, "ETH/USD": {"pnl": 34.5}},
        by_regime={"RISK_ON": {"pnl": 84.5}})


def test_writes_every_file_with_matching_contents(tmp_path):
    s = _series()
    out = write_report(tmp_path / "run", _report(s), s)
    assert sorted(p.name for p in out.iterdir()) == ["equity.parquet", "equity.png", "report.html", "report.json",
                                                      "trades.parquet"]
    rep = msgspec.json.decode((out / "report.json").read_bytes(), type=BacktestReport)
    assert rep.run.bars == 5000 and rep.metrics["sharpe"] == 1.23 and rep.created_utc
    eq = pq.read_table(out / "equity.parquet")
    assert str(eq.schema.field("ts").type) == "timestamp[ns, tz=UTC]"
    np.testing.assert_array_equal(eq.column("equity").to_numpy(), s.equity)
    assert eq.column("regime").to_pylist()[-1] == "NEUTRAL"
    tr = pq.read_table(out / "trades.parquet")
    assert tr.num_rows == 40 and tr.column("strategy").to_pylist()[1] == "trend_following"
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_report_json_has_a_schema():
    schema = report_schema()
    props = schema["$defs"]["BacktestReport"]["properties"]
    assert {"metrics", "config", "run"} <= set(props)
    assert set(schema["$defs"]["RunFigures"]["required"]) == {"bars", "symbols", "elapsed_s", "compile_s",
                                                               "bar_steps_per_s"}
    assert "prepare_s" in schema["$defs"]["RunFigures"]["properties"]  # optional: older reports lack it


def test_html_is_self_contained_and_small(tmp_path):
    s = _series(n=200_000)
    out = write_report(tmp_path / "run", _report(s), s, png=False)
    page = (out / "report.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count('data-chart="') >= 6
    assert len(page) < 2_000_000  # 200k bars are drawn as their envelope, not point by point


def test_downsampling_keeps_the_extremes():
    y = np.sin(np.linspace(0, 60, 100_000))
    y[54_321] = 9.0
    y[7] = -9.0
    idx = _downsample_index(y, 500)
    assert len(idx) <= 502 and 54_321 in idx and 7 in idx and idx[0] == 0 and idx[-1] == 99_999


def test_existing_output_is_never_overwritten_and_failures_leave_nothing(tmp_path):
    s = _series(n=100)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        write_report(tmp_path / "busy", _report(s), s)
    assert (tmp_path / "busy" / "x").read_text() == "keep me"
    bad = ReportSeries(ts=s.ts, equity=s.equity[:-1], price=s.price, regime=s.regime, proxy_symbol="BTC/USD")
    with pytest.raises(DataError, match="equity has 99 rows for 100"):
        write_report(tmp_path / "r2", _report(s), bad)
    s.equity[5] = np.nan
    with pytest.raises(DataError, match="non-finite value at bar 5"):
        write_report(tmp_path / "r3", _report(s), s)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda s: setattr(s, "ts", s.ts[::-1].copy()), "must increase"),
        (lambda s: setattr(s, "regime", np.full(s.ts.size, 7, np.int8)), "regime codes"),
        (lambda s: setattr(s, "ts", s.ts[:1]) or setattr(s, "equity", s.equity[:1]), "at least 2 bars"),
    ],
)
def test_bad_series_is_refused(tmp_path, mutate, match):
    s = _series(n=50)
    mutate(s)
    with pytest.raises(DataError, match=match):
        write_report(tmp_path / "r", _report(_series(n=50)), s)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="Chromium not installed (.ci/run installs Debian's chromium)")
def test_page_renders_its_charts_in_headless_chromium(tmp_path):
    import matplotlib.image as mpimg

    s = _series()
    out = write_report(tmp_path / "run", _report(s), s, png=False)
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1200,2400"]
    r = subprocess.run([_chromium(), *flags, f"--screenshot={shot}", (out / "report.html").as_uri()],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert shot.exists(), r.stderr[-2000:]
    img = (mpimg.imread(shot)[:, :, :3] * 255).round().astype(int)
    colours = {tuple(c) for c in img.reshape(-1, 3)[:: 7]}

    def seen(hex_colour, tol=12):
        want = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
        return any(np.abs(np.array(c) - want).max() <= tol for c in colours)

    assert seen("#1f5fa8"), "equity line not drawn"
    assert seen("#d8f0d8") and seen("#f8c8c8"), "regime shading not drawn"
    assert seen("#27ae60") and seen("#c0392b"), "P&L bars / trade markers not drawn"
    dom = subprocess.run([_chromium(), *flags, "--dump-dom", (out / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)}).stdout
    assert dom.count("<svg") >= 6 and "trend_following" in dom
    shutil.copy(shot, out / "screenshot.png")  # kept with the run for a person to look at
