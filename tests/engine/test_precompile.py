"""The compile helper (tradejet.engine.precompile) compiles exactly the signatures the driver uses.

A signature that drifts (someone changes a type the step passes) would not break anything,
only make the parent compile that subtree again: this test catches the drift. It runs the
helper's jobs in a fresh process with an empty cache, then compiles the driver in another
fresh process on the same cache and checks that no function the helper compiled is compiled
again. About 25 s of compile on one core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_CHILD = "import json; from tradejet.engine import precompile; print(json.dumps(precompile.run_jobs()))"

_PARENT = """
import json
from numba.core import event
compiled = []
class L(event.Listener):
    def on_start(self, ev):
        d = ev.data.get("dispatcher")
        if d is not None:
            compiled.append(d.py_func.__module__ + "." + d.py_func.__name__)
    def on_end(self, ev):
        pass
event.register("numba:compile", L())
from tradejet.config import Config
from tradejet.engine.simulate import MarketBars, run
from tradejet.io.synthetic import synthetic_market
from tradejet.engine.riskview import portfolio_risk
cfg = Config()
res = run(MarketBars.from_synthetic(synthetic_market(days=2, timeframe="1h", seed=3)), cfg)
portfolio_risk(res, cfg)
print(json.dumps(compiled))
"""

SHARED = {
    "tradejet.engine.step.decide_nb", "tradejet.kernels.portrisk.check_intent_portfolio_nb",
    "tradejet.strategies.dispatch.strategy_step_nb", "tradejet.kernels.regime.regime_update_nb",
    "tradejet.kernels.selector.selector_step_nb", "tradejet.kernels.metrics.summary_nb",
    "tradejet.kernels.portrisk.replay_risk_nb",
}


def _py(code: str, cache: str) -> str:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, TRADEJET_PARALLEL_COMPILE="0")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().splitlines()[-1]


def test_helper_compiles_the_drivers_own_signatures(tmp_path):
    cache = str(tmp_path / "numba")
    done = json.loads(_py(_CHILD, cache))
    assert done == {k: "ok" for k in done} and len(done) == 3, done
    again = set(json.loads(_py(_PARENT, cache)))
    assert "tradejet.engine.driver.run_nb" in again  # the parent did compile the driver itself
    assert not (again & SHARED), f"compiled twice (signature drift in precompile.jobs): {sorted(again & SHARED)}"


def test_start_is_off_when_disabled_or_warm(monkeypatch):
    from tradejet.engine import precompile

    monkeypatch.setenv("TRADEJET_PARALLEL_COMPILE", "0")
    assert precompile.start() is None
    monkeypatch.setenv("TRADEJET_PARALLEL_COMPILE", "1")
    monkeypatch.setattr(precompile, "_driver_cached", lambda: True)
    assert precompile.start() is None
    monkeypatch.setattr(precompile, "_driver_cached", lambda: False)
    monkeypatch.setattr(precompile, "_usable_cpus", lambda: 1)
    assert precompile.start() is None


def test_a_failing_job_is_reported_not_raised(monkeypatch):
    from tradejet.engine import precompile

    def boom():
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(precompile, "jobs", lambda: [("x", boom)])
    assert precompile.run_jobs() == {"x": "RuntimeError: no compiler today"}


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
