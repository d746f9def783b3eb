"""``tradejet dashboard`` and ``tradejet paper --dashboard``: broken options fail before anything runs, a
finished paper run keeps its page up until Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tradejet.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("argv", "match"), [
    (["dashboard", "--ledger", "{tmp}/missing.sqlite"], "no such ledger file"),
    (["dashboard", "--ledger", "{tmp}/x.sqlite", "--token", "short"], "--token must be at least 16"),
    (["dashboard", "--ledger", "{tmp}/x.sqlite", "--port", "70000"], "--port must be 0..65535"),
    (["dashboard", "--ledger", "{tmp}/x.sqlite", "--interval", "0"], "--interval must be > 0"),
    (["dashboard", "--ledger", "{tmp}/x.sqlite", "--host", "a b"], "--host must be"),
    (["paper", "--synthetic", "--dashboard", "--token", "short", "--ledger", "{tmp}/p.sqlite"],
     "--token must be at least 16"),
])
def test_bad_options_are_refused_with_a_clear_message(tmp_path, capsys, argv, match):
    (tmp_path / "x.sqlite").write_bytes(b"")
    rc = main([a.format(tmp=tmp_path) for a in argv])
    assert rc == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "p.sqlite").exists()  # refused before the run made its ledger


def test_a_finished_paper_run_keeps_its_dashboard_until_ctrl_c(tmp_path):
    err = tmp_path / "err"
    env = {**os.environ, "TRADEJET_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    with err.open("w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "tradejet", "paper", "--synthetic", "--max-bars", "60",
                                 "--ledger", str(tmp_path / "l.sqlite"), "--quiet", "--dashboard", "--port", "0"],
                                stdout=subprocess.PIPE, stderr=f, env=env, cwd=ROOT, text=True)
    try:
        t0 = time.monotonic()
        while "the run ended" not in err.read_text():
            assert proc.poll() is None and time.monotonic() - t0 < 120, err.read_text()[-2000:]
            time.sleep(0.1)
        url = re.search(r"dashboard at (http://\S+)", err.read_text()).group(1)
        with urllib.request.urlopen(url + "api/status", timeout=10) as r:
            status = json.loads(r.read())
        assert status["finished"] and status["trading_state"] == "FINISHED" and status["bars_done"] == 60
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.read_text()[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["bars"] == 60
