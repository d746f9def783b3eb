"""The package as users meet it: import, CLI entry points, public surface, compile cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import tradejet

EXPECTED_ALL = ["__version__", "load_config", "TradejetError", "run_backtest", "MarketBars"]


def test_public_api_is_pinned():
    assert sorted(tradejet.__all__) == sorted(EXPECTED_ALL)
    for name in tradejet.__all__:
        assert hasattr(tradejet, name), name


def test_import_keeps_heavy_modules_off_the_path():
    code = "import sys, tradejet; print([m for m in ('pandas','sklearn','talib','onnxruntime','matplotlib') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_python_dash_m_runs_the_cli():
    r = subprocess.run([sys.executable, "-m", "tradejet", "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout.strip() == f"tradejet {tradejet.__version__}"


def test_cli_without_a_command_prints_help_and_fails():
    r = subprocess.run([sys.executable, "-m", "tradejet"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "usage: tradejet" in r.stderr


def test_cli_rejects_an_unknown_command():
    r = subprocess.run([sys.executable, "-m", "tradejet", "no-such-command"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "invalid choice" in r.stderr


def test_py_typed_is_shipped():
    assert (os.path.join(os.path.dirname(tradejet.__file__), "py.typed"))
    assert os.path.exists(os.path.join(os.path.dirname(tradejet.__file__), "py.typed"))


def test_numba_cache_dir_is_honoured(tmp_path):
    # A cached kernel compiled in one process is loaded from NUMBA_CACHE_DIR by the next.
    mod = tmp_path / "cachedmod.py"
    mod.write_text(textwrap.dedent("""
        import numpy as np
        from numba import njit

        @njit(cache=True)
        def twice(x):
            return x * 2.0
    """))
    cache = tmp_path / "nbcache"
    code = ("import json, cachedmod, numpy as np; cachedmod.twice(np.float64(1.0)); "
            "s = cachedmod.twice.stats; print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(tmp_path)}
    first = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    second = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert first == [0, 1]
    assert second == [1, 0]
    assert any(cache.rglob("*.nbi"))
