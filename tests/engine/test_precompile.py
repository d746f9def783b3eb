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

_CHILD = """
import json
from tradejet.engine import precompile
done = precompile.run_jobs()
for name, job in precompile._parent_jobs():  # the parent's half, with its own signatures
    job()
    done["parent:" + name] = "ok"
print(json.dumps(done))
"""

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
    "tradejet.kernels.portrisk.replay_risk_nb", "tradejet.strategies.indicator_block.indicators_block_nb",
    "tradejet.kernels.fills.fill_bar_nb", "tradejet.engine.step.on_fill_nb", "tradejet.engine.step.on_order_done_nb",
    "tradejet.strategies.indicator_block._lockstep_nb",  # inside the lanes' C function (the helper's "lanes")
}


def _py(code: str, cache: str) -> str:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, TRADEJET_PARALLEL_COMPILE="0")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().splitlines()[-1]


def test_both_halves_compile_the_drivers_own_signatures(tmp_path):
    cache = str(tmp_path / "numba")
    done = json.loads(_py(_CHILD, cache))
    assert done == {k: "ok" for k in done} and len(done) == 6, done
    again = set(json.loads(_py(_PARENT, cache)))
    assert "tradejet.engine.driver.run_bars_nb" in again  # the parent did compile the driver itself
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


def test_a_failing_job_is_reported_not_raised(monkeypatch, tmp_path):
    from tradejet.engine import precompile

    def boom():
        raise RuntimeError("no compiler today")

    monkeypatch.setattr(precompile, "jobs", lambda: [("x", boom)])
    monkeypatch.setenv("TRADEJET_PRECOMPILE_MARKS", str(tmp_path))
    assert precompile.run_jobs() == {"x": "RuntimeError: no compiler today"}
    assert (tmp_path / "x").read_text() == "RuntimeError: no compiler today"  # the parent stops waiting


def test_parent_share_compiles_its_half_and_wait_stops_at_the_helpers_mark(monkeypatch, tmp_path):
    import subprocess
    import sys

    from tradejet.engine import precompile

    ran = []
    monkeypatch.setattr(precompile, "_parent_jobs", lambda: [("mine", lambda: ran.append(1))])
    monkeypatch.setattr(precompile, "_child", None)
    assert precompile.parent_share() is False and ran == []  # no helper started: nothing to do
    assert precompile.wait("decide") is None and precompile.ready("lanes")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setattr(precompile, "_child", child)
        monkeypatch.setattr(precompile, "_marks", str(tmp_path))
        assert precompile.parent_share() is True and ran == [1]  # compiles, does not wait
        assert not precompile.ready("lanes")  # the helper is still on it
        (tmp_path / "decide").write_text("ok")
        assert precompile.wait("decide") == "marked"
        assert precompile.wait("lanes", timeout=0.0) == "timeout"
        (tmp_path / "lanes").write_text("ok")
        assert precompile.ready("lanes")
        child.kill()
        child.wait()
        assert precompile.wait("metrics") == "exited" and precompile.ready("metrics")  # a dead helper is not waited for
    finally:
        if child.poll() is None:
            child.kill()


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
