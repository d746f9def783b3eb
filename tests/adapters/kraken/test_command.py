from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tradejet.cli import build_parser, main
from tradejet.commands.sandbox import parse_balances
from tradejet.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_balances_are_mapped_to_kraken_asset_ids():
    assert parse_balances(["USD=10000", "btc=0.5", "DOGE=100", "SOL=2"]) == \
        {"ZUSD": "10000", "XXBT": "0.5", "XXDG": "100", "SOL": "2"}
    assert parse_balances(None) == {"ZUSD": "10000"}
    for bad, msg in (["USD"], "ASSET=AMOUNT"), (["FOO=1"], "unknown asset"), (["USD=x"], "number"), \
            (["USD=-1"], ">= 0"):
        with pytest.raises(ConfigError, match=msg):
            parse_balances(bad)


def test_parser_and_argument_errors(capsys):
    args = build_parser().parse_args(["sandbox", "--port", "0", "--seed", "3", "--balance", "USD=5"])
    assert args.port == 0 and args.seed == 3 and args.balance == ["USD=5"]
    assert main(["sandbox", "--api-key", "k"]) == 2
    assert "--api-secret" in capsys.readouterr().err
    assert main(["sandbox", "--data", "/nowhere"]) == 2


def test_sandbox_command_serves_and_prints_a_generated_key_pair():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tradejet", "sandbox", "--port", "0", "--speed", "0",
                             "--balance", "USD=123"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        base = lines[0].split()[-1]
        assert base.startswith("http://127.0.0.1:") and lines[1].split()[-1].startswith("ws://127.0.0.1:")
        assert lines[2].startswith("KRAKEN_API_KEY=") and lines[3].startswith("KRAKEN_API_SECRET=")
        with urllib.request.urlopen(base + "/0/public/SystemStatus", timeout=5) as r:
            assert json.loads(r.read())["result"]["status"] == "online"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_bench_suite_runs_with_parity(capsys):
    assert main(["bench", "kraken", "--repeats", "1", "--calls", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and all(r["ours_ms"] > 0 and r["reference_ms"] > 0 for r in rows)
