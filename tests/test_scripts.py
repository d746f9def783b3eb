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
