"""The operator entry points under scripts/ run (shortened by their pass-through arguments)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_run_paper_kraken_crypto(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRADEJET_HOME=str(tmp_path), TRADEJET_SPEED="max",
               PYTHON=sys.executable)
    env.pop("TRADEJET_DATA_DIR", None)
    out = subprocess.run([str(ROOT / "scripts" / "run_paper_kraken_crypto.sh"), "--max-bars", "100", "--quiet"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["bars"] == 100 and res["reconciled"] is True
    assert Path(res["ledger"]) == tmp_path / "paper" / "ledger.sqlite"


def test_run_live_kraken_crypto_against_the_sandbox(tmp_path):
    from tradejet.adapters.kraken.auth import generate_credentials
    from tradejet.adapters.kraken.sandbox import Sandbox

    creds = generate_credentials()
    cfg = tmp_path / "live.toml"
    cfg.write_text('[backtest]\ntimeframe = "1m"\n[universe]\nsymbols = ["BTC/USD", "ETH/USD"]\n'
                   '[live]\ntier = "pro"\ndead_mans_switch_s = 15\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRADEJET_HOME=str(tmp_path), PYTHON=sys.executable,
               KRAKEN_API_KEY=creds.api_key, KRAKEN_API_SECRET=creds.reveal_secret(), TRADEJET_CONFIG=str(cfg))
    env.pop("LOG_LEVEL", None)
    script = str(ROOT / "scripts" / "run_live_kraken_crypto.sh")
    sb = Sandbox(credentials=creds, seed=8, speed=900, pairs=["XXBTZUSD", "XETHZUSD"])
    with sb.run_in_thread():
        env["TRADEJET_BASE_URL"] = sb.base_url
        refused = subprocess.run([script, "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                 timeout=120)
        env["TRADEJET_I_UNDERSTAND_REAL_MONEY"] = "yes"
        out = subprocess.run([script, "--ws-url", sb.ws_url, "--max-bars", "2", "--quiet"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
        armed_after = sb.exchange.accounts[creds.api_key].dms_deadline
    assert refused.returncode == 2 and "--i-understand-real-money" in refused.stderr
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["live_bars"] == 2 and res["reconciled"] is True
    assert res["dead_mans_switch_armed"] >= 1 and armed_after is None  # armed while running, disarmed on stop
    assert Path(res["ledger"]) == tmp_path / "live" / "ledger.sqlite"
    assert creds.reveal_secret() not in out.stdout + out.stderr
