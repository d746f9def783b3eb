"""``tradejet live``: the refusal paths, the swing hand-over, the kill switch, paper fills on live data.

Runs in-process (``cli.main``) against the sandbox on 127.0.0.1 in a thread; the full
kill -9 session with child processes is tests/engine/test_live_kraken_session.py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from tradejet.adapters.kraken.auth import generate_credentials
from tradejet.adapters.kraken.sandbox import Sandbox
from tradejet.cli import main

CONFIG = '[backtest]\ntimeframe = "1m"\n[live]\ntier = "pro"\ndead_mans_switch_s = 15\n'


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for k in ("DEPLOYMENT_ENV", "KRAKEN_API_KEY", "KRAKEN_API_SECRET", "LOG_LEVEL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    monkeypatch.setenv("TRADEJET_HOME", str(tmp_path / "home"))
    return tmp_path


def _config(tmp_path: Path, extra: str = "") -> str:
    p = tmp_path / "live.toml"
    p.write_text(CONFIG + extra)
    return str(p)


def test_refuses_outside_deployment_env_live(clean_env, capsys):
    assert main(["live", "--config", _config(clean_env), "--i-understand-real-money"]) == 2
    assert "DEPLOYMENT_ENV=live" in capsys.readouterr().err


def test_refuses_without_the_real_money_flag(clean_env, capsys, monkeypatch):
    monkeypatch.setenv("DEPLOYMENT_ENV", "live")
    assert main(["live", "--config", _config(clean_env)]) == 2
    assert "--i-understand-real-money" in capsys.readouterr().err


def test_refuses_without_credentials_and_the_config_flag_counts(clean_env, capsys, monkeypatch):
    monkeypatch.setenv("DEPLOYMENT_ENV", "live")
    cfg = _config(clean_env, "i_understand_real_money = true\n")
    assert main(["live", "--config", cfg]) == 2
    err = capsys.readouterr().err
    assert "KRAKEN_API_KEY" in err and "KRAKEN_API_SECRET" in err


def test_refuses_when_system_status_is_not_online_and_never_shows_the_secret(clean_env, capsys, monkeypatch, caplog):
    creds = generate_credentials()
    # credentials from a .env file this time
    (clean_env / ".env").write_text(f"KRAKEN_API_KEY={creds.api_key}\nKRAKEN_API_SECRET={creds.reveal_secret()}\n")
    monkeypatch.setenv("DEPLOYMENT_ENV", "live")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    sb = Sandbox(credentials=creds, seed=2)
    sb.exchange.status = "maintenance"
    with sb.run_in_thread():
        code = main(["live", "--config", _config(clean_env), "--base-url", sb.base_url, "--i-understand-real-money",
                     "--ledger", str(clean_env / "l.sqlite")])
    out = capsys.readouterr()
    assert code == 2
    assert "SystemStatus is 'maintenance'" in out.err
    text = out.out + out.err + caplog.text
    assert creds.reveal_secret() not in text
    assert ("POST", "/0/private/AddOrder") not in sb.requests


@pytest.mark.parametrize("argv, key", [
    (["--max-bars", "0"], "--max-bars"),
])
def test_bad_arguments_are_named(clean_env, capsys, monkeypatch, argv, key):
    monkeypatch.setenv("DEPLOYMENT_ENV", "live")
    assert main(["live", "--config", _config(clean_env), "--i-understand-real-money", *argv]) == 2
    assert key in capsys.readouterr().err


def test_bad_live_config_is_named(clean_env, capsys):
    assert main(["live", "--config", _config(clean_env, "max_order_notional = -5\n"), "--paper-fills"]) == 2
    assert "live.max_order_notional" in capsys.readouterr().err


def test_swing_is_handed_to_the_swing_runner(clean_env, monkeypatch):
    seen = []
    mod = types.ModuleType("tradejet.commands._swing_live")
    mod.run = lambda args: seen.append(args.system) or 7
    monkeypatch.setitem(sys.modules, "tradejet.commands._swing_live", mod)
    assert main(["live", "--system", "swing"]) == 7
    assert seen == ["swing"]


def test_swing_without_its_runner_is_a_clear_error(clean_env, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tradejet.commands._swing_live", None)  # not installed
    assert main(["live", "--system", "swing"]) == 2
    assert "US-equities runner" in capsys.readouterr().err


def _after(pred, action, timeout=60.0):
    """Run ``action`` once ``pred()`` holds; at the timeout run it anyway (unless the thread's
    ``done`` event is set: the run is over), so a run that never gets there stops and fails
    its assertions instead of hanging the suite."""
    def run():
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout and not pred():
            if th.done.wait(0.02):
                return
        action()
    th = threading.Thread(target=run, daemon=True)
    th.done = threading.Event()
    th.start()
    return th


def _armed(sb) -> bool:
    return ("POST", "/0/private/CancelAllOrdersAfter") in sb.requests


@pytest.mark.parametrize("how", ["file", "SIGUSR1"])
def test_kill_switch_cancels_all_orders_and_stops(clean_env, capsys, monkeypatch, how):
    creds = generate_credentials()
    monkeypatch.setenv("DEPLOYMENT_ENV", "live")
    monkeypatch.setenv("KRAKEN_API_KEY", creds.api_key)
    monkeypatch.setenv("KRAKEN_API_SECRET", creds.reveal_secret())
    kill = clean_env / "STOP"
    sb = Sandbox(credentials=creds, seed=3, speed=600, pairs=["XXBTZUSD", "XETHZUSD"])
    cfg = _config(clean_env, f'kill_switch_file = "{kill}"\n')
    cfg_text = Path(cfg).read_text().replace("[live]", '[universe]\nsymbols = ["BTC/USD", "ETH/USD"]\n[live]')
    Path(cfg).write_text(cfg_text)
    with sb.run_in_thread():
        # an order resting far from the market is working when the switch fires
        acct = sb.exchange.accounts[creds.api_key]
        o = sb.exchange.validate_order(acct, {"pair": "XXBTZUSD", "type": "buy", "ordertype": "limit",
                                              "volume": "0.001", "price": "1000.0", "cl_ord_id": "manual-1"})
        sb.exchange.place(acct, o)
        if how == "file":
            th = _after(lambda: _armed(sb), kill.touch)
        else:
            th = _after(lambda: _armed(sb), lambda: os.kill(os.getpid(), signal.SIGUSR1))
        code = main(["live", "--config", cfg, "--base-url", sb.base_url, "--ws-url", sb.ws_url,
                     "--i-understand-real-money", "--ledger", str(clean_env / "l.sqlite"), "--quiet",
                     "--max-bars", "5000"])  # a bound, never reached when the switch works (exit 3, not 0)
        th.done.set()
        still_open = [x for x in sb.exchange.orders.values() if x.status == "open"]
    out = capsys.readouterr()
    assert code == 3, out.err
    res = json.loads(out.out.strip().splitlines()[-1])
    assert res["killed"] and (str(kill) in res["killed"] if how == "file" else res["killed"] == "SIGUSR1")
    assert res["dead_mans_switch_armed"] >= 1
    assert ("POST", "/0/private/CancelAll") in sb.requests
    assert still_open == [] and o.status == "canceled"
    # the unknown resting order was reported by the start-up reconciliation
    assert "unknown_open_order" in res["findings"]
    # a kill file left in place refuses the next start
    if how == "file":
        assert main(["live", "--config", cfg, "--base-url", "http://127.0.0.1:9", "--i-understand-real-money",
                     "--ledger", str(clean_env / "l2.sqlite")]) == 2
        assert "kill switch file" in capsys.readouterr().err


def test_paper_fills_on_live_sandbox_data_send_nothing_and_resume(clean_env, capsys, caplog):
    sb = Sandbox(seed=4, speed=1200)
    led = str(clean_env / "p.sqlite")
    cfg = _config(clean_env)
    with sb.run_in_thread():
        argv = ["live", "--config", cfg, "--base-url", sb.base_url, "--ws-url", sb.ws_url, "--paper-fills",
                "--max-bars", "3", "--ledger", led, "--quiet"]
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, out.err
        first = json.loads(out.out.strip().splitlines()[-1])
        # the same ledger with another config is refused: a restart must replay the same decisions
        other = clean_env / "other.toml"
        other.write_text(CONFIG + "max_daily_loss = 50.0\n")
        assert main([*argv[:2], str(other), *argv[3:]]) == 2
        assert "another live run" in capsys.readouterr().err
        code = main(argv)  # the same config: resumes from the journal
        out = capsys.readouterr()
    assert code == 0, out.err
    res = json.loads(out.out.strip().splitlines()[-1])
    assert first["live_bars"] == 3 and first["replayed_bars"] >= 700 and first["reconciled"] is True
    assert res["resumed"] is True and res["run_id"] == first["run_id"]
    assert res["replayed_bars"] == first["replayed_bars"] + 3 and res["reconciled"] is True
    assert "late_bar" not in caplog.text  # warm-up and catch-up kept every cross-section whole
    assert not any(path.startswith("/0/private/") for _, path in sb.requests)  # no key, nothing sent
    assert sb.exchange.orders == {}


def test_live_scores_ml_signal_with_the_promoted_model_and_serves_the_dashboard(clean_env):
    """--model (default: the promoted model) scores ml_signal live; --dashboard serves the run's status."""
    import contextlib
    import io
    import re
    import urllib.request

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from _ml_helpers import small_cfg

    from tradejet.models.data import synthetic_market
    from tradejet.models.pipeline import run_retraining

    res = run_retraining("crypto", synthetic_market(n_symbols=2, n_bars=2500, seed=3), 300, clean_env / "home",
                         cfg=small_cfg())
    assert res.outcome == "promoted", res.reason
    err = io.StringIO()
    got: dict = {}

    def poll() -> None:
        end = time.monotonic() + 120
        while time.monotonic() < end and "status" not in got:
            m = re.search(r"dashboard at (http://127\.0\.0\.1:\d+/)", err.getvalue())
            if m:
                with contextlib.suppress(OSError):
                    with urllib.request.urlopen(m.group(1) + "api/status", timeout=5) as r:
                        got["status"] = json.loads(r.read())
            time.sleep(0.05)

    sb = Sandbox(seed=4, speed=600)
    with sb.run_in_thread():
        th = threading.Thread(target=poll, daemon=True)
        th.start()
        with contextlib.redirect_stderr(err):
            code = main(["live", "--config", _config(clean_env), "--base-url", sb.base_url, "--ws-url", sb.ws_url,
                         "--paper-fills", "--max-bars", "20", "--ledger", str(clean_env / "m.sqlite"), "--dashboard",
                         "--port", "0"])
        th.join(timeout=5)
    assert code == 0, err.getvalue()
    assert f"scored by crypto model {res.promoted_id}" in err.getvalue()
    assert got.get("status", {}).get("mode") == "paper", got  # paper fills: the page says PAPER, not LIVE
