"""``tradejet doctor`` and ``tradejet data download`` end to end against the sandbox on 127.0.0.1:
through ``cli.main`` (fast) and a subprocess (exit codes, stderr, what a user sees)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tradejet.adapters.kraken.sandbox import Sandbox
from tradejet.adapters.kraken.sandbox.market import SyntheticMarket
from tradejet.cli import main
from tradejet.commands.data import parse_since
from tradejet.io.store import BarStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean working folder (no .env) and TRADEJET_HOME; returns a function setting the key pair."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRADEJET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KRAKEN_API_KEY", raising=False)
    monkeypatch.delenv("KRAKEN_API_SECRET", raising=False)

    def use(creds):
        monkeypatch.setenv("KRAKEN_API_KEY", creds.api_key)
        monkeypatch.setenv("KRAKEN_API_SECRET", creds.reveal_secret())
    return use


def run_cli(*args, env_extra=None):
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tradejet", *map(str, args)], capture_output=True, text=True, env=e)


# ---- doctor --------------------------------------------------------------------------------------

def test_doctor_all_pass_as_a_user_runs_it_and_prints_no_secret(tmp_path):
    sb = Sandbox(seed=4)
    with sb.run_in_thread():
        r = run_cli("doctor", "--base-url", sb.base_url,
                    env_extra={"KRAKEN_API_KEY": sb.credentials.api_key,
                               "KRAKEN_API_SECRET": sb.credentials.reveal_secret(), "TRADEJET_HOME": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all 21 checks passed" in r.stdout and "FAIL" not in r.stdout
    assert sb.credentials.reveal_secret() not in r.stdout + r.stderr
    assert sb.credentials.api_key not in r.stdout + r.stderr and sb.credentials.api_key[:4] + "..." in r.stdout


@pytest.mark.parametrize("sandbox_kw,mutate,expect", [
    ({"permissions": "funds,open,closed,websocket"}, None, "Create & Modify Orders"),
    ({}, lambda sb: setattr(sb.exchange, "status", "maintenance"), "maintenance"),
    ({"clock": lambda: time.time() - 600}, None, "ahead of Kraken"),
])
def test_doctor_failures_exit_1_with_the_failing_check(env, capsys, sandbox_kw, mutate, expect):
    sb = Sandbox(seed=4, **sandbox_kw)
    env(sb.credentials)
    with sb.run_in_thread():
        if mutate:
            mutate(sb)
        code = main(["doctor", "--base-url", sb.base_url])
    out = capsys.readouterr().out
    assert code == 1 and expect in out and "checks failed: fix them before trading" in out
    assert sb.credentials.reveal_secret() not in out


def test_doctor_bad_secret_and_missing_credentials(env, capsys):
    from tradejet.adapters.kraken.auth import Credentials, generate_credentials

    sb = Sandbox(seed=4)
    with sb.run_in_thread():
        wrong = Credentials(sb.credentials.api_key, generate_credentials().reveal_secret())
        env(wrong)
        assert main(["doctor", "--base-url", sb.base_url]) == 1
        out = capsys.readouterr().out
        assert "EAPI:Invalid signature" in out and wrong.reveal_secret() not in out
        os.environ.pop("KRAKEN_API_KEY")
        os.environ.pop("KRAKEN_API_SECRET")
        assert main(["doctor", "--base-url", sb.base_url]) == 1
        assert "no credentials" in capsys.readouterr().out


def test_doctor_reads_order_sizes_from_the_config(env, capsys, tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text('[universe]\nsymbols = ["BTC/USD", "DOGE/USD"]\n[orders]\nnotional = 1.0\npairs = {"DOGE/USD" = 5.0}\n')
    sb = Sandbox(seed=4)
    env(sb.credentials)
    with sb.run_in_thread():
        assert main(["doctor", "--base-url", sb.base_url, "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "pair BTC/USD" in out and "raise orders.notional" in out and "pair ETH/USD" not in out
    btc_line = next(line for line in out.splitlines() if "pair BTC/USD" in line)
    doge_line = next(line for line in out.splitlines() if "pair DOGE/USD" in line)
    assert "FAIL" in btc_line and "PASS" in doge_line


@pytest.mark.parametrize("args,toml,message", [
    (["--max-skew", "-1"], None, "--max-skew must be > 0"),
    ([], '[orders]\nnotional = 0\n', "orders.notional"),
    ([], '[orders]\npairs = {"PEPE/USD" = 5.0}\n', "orders.pairs names 'PEPE/USD'"),
    ([], '[universe]\nsymbols = ["NOPE/USD"]\n', "unknown symbol 'NOPE/USD'"),
])
def test_doctor_argument_and_config_errors_exit_2_naming_the_problem(env, capsys, tmp_path, args, toml, message):
    if toml is not None:
        (tmp_path / "c.toml").write_text(toml)
        args = [*args, "--config", str(tmp_path / "c.toml")]
    assert main(["doctor", "--base-url", "http://127.0.0.1:9", *args]) == 2
    assert message in capsys.readouterr().err


# ---- data download -------------------------------------------------------------------------------

def test_data_download_as_a_user_runs_it(tmp_path):
    m = SyntheticMarket({"XXBTZUSD": 85000.0}, seed=6, history=760)
    sb = Sandbox(market=m)
    store = tmp_path / "store"
    since = str(m.t0 + 60 * 20)  # 20 candles in: 21 from Trades, 719 from OHLC
    with sb.run_in_thread():
        r = run_cli("data", "download", "--symbol", "XBTUSD", "--timeframe", "1m", "--since", since,
                    "--base-url", sb.base_url, "--store", store)
        again = run_cli("data", "download", "--symbol", "BTC/USD", "--since", since, "--base-url", sb.base_url,
                        "--store", store)
    assert r.returncode == 0, r.stderr
    assert "21 bars from" in r.stdout and "719 bars from OHLC" in r.stdout and "740 added" in r.stdout
    assert again.returncode == 0 and "up to date (740 bars stored" in again.stdout
    got = BarStore(store).read("kraken", "BTC/USD", "1m")
    want = np.array([m.candle("XXBTZUSD", i)[4] for i in range(20, 760)])
    np.testing.assert_array_equal(got["close"], np.round(want, 1))


@pytest.mark.parametrize("args,message", [
    (["--symbol", "BTC/USD", "--since", "yesterday"], "--since must be a UTC date"),
    (["--symbol", "BTC/USD", "--since", "2999-01-01"], "--since is in the future"),
    (["--symbol", "PEPE/USD", "--since", "2026-01-01"], "unknown symbol 'PEPE/USD'"),
    (["--symbol", "BTC/USD", "--since", "2026-01-01", "--timeframe", "2m"], "Kraken serves candles of 1m"),
    (["--symbol", "BTC/USD", "--since", "2026-01-01", "--timeframe", "fast"], "fast"),
])
def test_data_download_argument_errors_exit_2_naming_the_problem(env, capsys, tmp_path, args, message):
    code = main(["data", "download", *args, "--base-url", "http://127.0.0.1:9", "--store", str(tmp_path / "s")])
    assert code == 2 and message in capsys.readouterr().err


def test_data_download_without_since_is_an_argparse_error():
    r = run_cli("data", "download", "--symbol", "BTC/USD")
    assert r.returncode == 2 and "--since" in r.stderr


def test_data_download_unreachable_venue_says_so(env, capsys, tmp_path):
    code = main(["data", "download", "--symbol", "BTC/USD", "--since", "2026-01-01", "--base-url", "http://127.0.0.1:9",
                 "--store", str(tmp_path / "s")])
    assert code == 2 and "Kraken OHLC: connection failed" in capsys.readouterr().err


def test_parse_since_forms():
    assert parse_since("2026-11-01") == parse_since("2026-11-01T00:00:00Z") == 1_793_491_200 * 10**9
    assert parse_since("2026-11-01T12:30") == (1_793_491_200 + 45_000) * 10**9
    assert parse_since("1793491200") == 1_793_491_200 * 10**9


def test_sandbox_rejects_an_unknown_permission(env, capsys):
    assert main(["sandbox", "--port", "0", "--permissions", "funds,withdraw"]) == 2
    assert "unknown permission 'withdraw'" in capsys.readouterr().err
