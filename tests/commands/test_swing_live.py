"""The swing live runner (``tradejet live --system swing``) and its operator script, against the local server."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tradejet.adapters.alpaca.market import synthetic_market
from tradejet.adapters.alpaca.server import AlpacaServer
from tradejet.commands import _swing_live

ROOT = Path(__file__).resolve().parents[2]
SYMS = ["SPY", "AAPL", "MSFT"]


def args(**kw) -> argparse.Namespace:
    base = {"config": None, "base_url": None, "i_understand_real_money": False, "ledger": None, "max_bars": None,
            "quiet": True}
    return argparse.Namespace(**{**base, **kw})


@pytest.fixture
def server():
    srv = AlpacaServer(market=synthetic_market(SYMS, days=300, seed=3), cash=100_000.0, start=260, step_s=0.3)
    with srv.run_in_thread():
        yield srv


def test_refuses_without_credentials(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    assert _swing_live.run(args(ledger=str(tmp_path / "l.sqlite"))) == 2
    assert "no Alpaca credentials" in capsys.readouterr().err
    assert not (tmp_path / "l.sqlite").exists()


def test_refuses_live_without_the_real_money_flag(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("APCA_API_KEY_ID", "k")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "secret-value-xyz")
    monkeypatch.setenv("DEPLOYMENT_ENV", "live")
    assert _swing_live.run(args(ledger=str(tmp_path / "l.sqlite"))) == 2
    err = capsys.readouterr().err
    assert "--i-understand-real-money" in err and "secret-value-xyz" not in err


def test_bad_limits_are_named(monkeypatch, tmp_path):
    from tradejet.errors import ConfigError

    monkeypatch.setenv("APCA_API_KEY_ID", "k")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "s")
    monkeypatch.setenv("TRADEJET_MAX_DAILY_LOSS", "lots")
    with pytest.raises(ConfigError, match="TRADEJET_MAX_DAILY_LOSS"):
        _swing_live.run(args(ledger=str(tmp_path / "l.sqlite")))


def test_runs_against_the_local_server(monkeypatch, capsys, tmp_path, server):
    monkeypatch.setenv("APCA_API_KEY_ID", server.key_id)
    monkeypatch.setenv("APCA_API_SECRET_KEY", server.secret)
    monkeypatch.setenv("DEPLOYMENT_ENV", "paper")
    monkeypatch.setenv("TRADEJET_HOME", str(tmp_path))
    rc = _swing_live.run(args(base_url=server.base_url, max_bars=3, symbols=",".join(SYMS), poll_seconds=0.01,
                              warmup_days=200))
    out = capsys.readouterr()
    assert rc == 0, out.err
    res = json.loads(out.out.strip().splitlines()[-1])
    assert res["environment"] == "paper" and res["bars"] == 3 and res["warmup_bars"] == 3 * 200
    assert Path(res["ledger"]) == tmp_path / "live" / "swing" / "paper" / "ledger.sqlite"
    audit = (tmp_path / "live" / "swing" / "paper" / "ledger.sqlite.audit.jsonl").read_text()
    assert '"swing_started"' in audit and '"swing_finished"' in audit and server.secret not in audit
    assert server.secret not in out.err and server.key_id not in out.err


def test_script_runs_the_swing_runner(tmp_path, server):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRADEJET_HOME=str(tmp_path), PYTHON=sys.executable,
               APCA_API_KEY_ID=server.key_id, APCA_API_SECRET_KEY=server.secret, ALPACA_BASE_URL=server.base_url,
               TRADEJET_SWING_SYMBOLS=",".join(SYMS), DEPLOYMENT_ENV="paper")
    out = subprocess.run([str(ROOT / "scripts" / "run_us_live_swing.sh"), "--max-bars", "2", "--quiet",
                          "--poll-seconds", "0.01", "--warmup-days", "100"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["bars"] == 2 and Path(res["ledger"]) == tmp_path / "live" / "swing" / "paper" / "ledger.sqlite"
    assert server.secret not in out.stderr + out.stdout


def test_the_swing_universe_comes_from_the_swing_section(monkeypatch):
    import msgspec

    from tradejet.config import Config

    monkeypatch.delenv("TRADEJET_SWING_SYMBOLS", raising=False)
    cfg = msgspec.convert({"swing": {"symbols": ["SPY", "GLD"]}}, Config)
    assert _swing_live.swing_symbols(cfg) == ["SPY", "GLD"]  # as the swing backtest and paper runs trade
    assert _swing_live.swing_symbols(cfg, args(symbols="ief, vnq")) == ["IEF", "VNQ"]
