"""`tradejet backtest` / `tradejet paper` score ml_signal with the promoted model (or say why not)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))

CONFIG = """
[backtest]
synthetic_days = 30
[selector]
risk_on = [{strategy = "ml_signal", share = 1.0}]
neutral = [{strategy = "ml_signal", share = 1.0}]
risk_off = [{strategy = "ml_signal", share = 1.0}]
[strategies.ml_signal]
enter_threshold = 0.5
exit_threshold = 0.45
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    from _ml_helpers import small_cfg

    from tradejet.models.data import synthetic_market
    from tradejet.models.pipeline import run_retraining

    h = tmp_path_factory.mktemp("tjhome")
    res = run_retraining("crypto", synthetic_market(n_symbols=2, n_bars=2500, seed=3), 300, h, cfg=small_cfg())
    assert res.outcome == "promoted", res.reason
    return h


def _cli(home: Path, *args):
    env = dict(os.environ, TRADEJET_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "tradejet", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def _backtest(home, tmp_path, name, *extra):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / name
    r = _cli(home, "backtest", "--config", str(cfg), "--out", str(out), "--quiet", "--no-png", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads((out / "report.json").read_text())


def _ml_trades(rep) -> int:
    return int((rep.get("by_strategy") or {}).get("ml_signal", {}).get("trades", 0))


def test_backtest_scores_ml_signal_with_the_promoted_model(home, tmp_path):
    from tradejet.models.artifacts import ArtifactStore

    pid = ArtifactStore(home, "crypto").promoted_id()
    rep = _backtest(home, tmp_path, "with")
    assert any(f"scored by crypto model {pid}" in w for w in rep["warnings"]), rep["warnings"]
    assert _ml_trades(rep) > 0
    none = _backtest(home, tmp_path, "without", "--model", "none")
    assert any("--model none" in w for w in none["warnings"])
    assert _ml_trades(none) == 0


def test_a_tampered_model_is_refused_and_never_trades(home, tmp_path):
    import shutil

    from tradejet.models.artifacts import ArtifactStore

    h = tmp_path / "home"
    shutil.copytree(home, h)
    store = ArtifactStore(h, "crypto")
    f = store.path(store.promoted_id()) / "model.onnx"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    f.write_bytes(bytes(raw))
    rep = _backtest(h, tmp_path, "tampered")
    assert any("REFUSED" in w and "SHA-256" in w for w in rep["warnings"]), rep["warnings"]
    assert _ml_trades(rep) == 0


def test_no_model_yet_is_said(tmp_path):
    rep = _backtest(tmp_path / "empty-home", tmp_path, "nomodel")
    assert any("no crypto model trained yet" in w for w in rep["warnings"])


def test_an_unknown_model_id_is_one_line(home, tmp_path):
    r = _cli(home, "backtest", "--out", str(tmp_path / "x"), "--quiet", "--model", "crypto-nope")
    assert r.returncode == 2 and "--model" in r.stderr and "crypto-nope" in r.stderr


def test_paper_scores_ml_signal_and_records_the_model(home, tmp_path):
    from tradejet.io.audit import read_records
    from tradejet.models.artifacts import ArtifactStore

    pid = ArtifactStore(home, "crypto").promoted_id()
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    ledger = tmp_path / "paper.sqlite"
    r = _cli(home, "paper", "--synthetic", "--config", str(cfg), "--ledger", str(ledger), "--max-bars", "400",
             "--quiet")
    assert r.returncode == 0, r.stderr
    started = [rec for rec in read_records(ledger.with_name(ledger.name + ".audit.jsonl"))
               if rec.event == "paper_started"]
    assert started and started[0].data["model"] == pid
    import sqlite3

    with sqlite3.connect(ledger) as db:
        n = db.execute("select count(*) from orders where strategy = 4").fetchone()[0]  # 4: ml_signal
    assert n > 0


def test_paper_retrain_is_refused_for_swing(tmp_path):
    r = _cli(tmp_path / "home", "paper", "--system", "swing", "--retrain", "--ledger", str(tmp_path / "l.sqlite"),
             "--max-bars", "5", "--quiet")
    assert r.returncode == 2 and "--retrain" in r.stderr and "DOWNTIME" in r.stderr
