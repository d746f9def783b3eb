"""The views' pieces: the equity tracker against a NumPy oracle, the audit log's tail."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.dashboard.state import EquityTracker, audit_tail
from tradejet.io.audit import AuditLog


@given(st.lists(st.floats(1.0, 1e6), min_size=1, max_size=3000), st.integers(4, 64))
def test_tracker_drawdown_matches_numpy_and_stays_small(eq, max_points):
    tr = EquityTracker(max_points=max_points)
    for i, e in enumerate(eq):
        tr.add(i, e, "NEUTRAL" if i % 500 < 250 else "RISK_ON", 3)
    a = np.array(eq)
    dd = a / np.maximum.accumulate(a) - 1.0
    c = tr.curve()
    assert c.max_drawdown == pytest.approx(dd.min(), abs=1e-12)
    assert c.peak == pytest.approx(a.max()) and c.total_bars == len(eq)
    assert len(c.points) <= max_points + 1
    for p in c.points:
        assert p.equity == a[p.ts] and p.drawdown == pytest.approx(dd[p.ts], abs=1e-12)
    assert [p.ts for p in c.points] == sorted({*range(0, len(eq), c.stride), len(eq) - 1})
    assert [(s.start_ts, s.regime) for s in c.timeline] == [(i, "NEUTRAL" if i % 500 < 250 else "RISK_ON")
                                                           for i in range(0, len(eq), 250)]
    assert c.timeline[-1].end_ts == len(eq) - 1 and c.timeline[0].active == ["trend_following", "mean_reversion"]


def test_tracker_skips_non_finite_equity():
    tr = EquityTracker()
    tr.add(0, 100.0, None, None)
    tr.add(1, float("nan"), None, None)
    assert tr.curve().total_bars == 1


def test_audit_tail_reads_only_the_end_and_ignores_a_torn_line(tmp_path):
    p = tmp_path / "a.jsonl"
    with AuditLog(p, fsync=False) as log:
        for i in range(2000):
            log.append("tick", {"i": i, "pad": "x" * 100})
    with open(p, "ab") as f:
        f.write(b'{"seq": 2001, "ts": 1, "ev')  # a write torn by a crash
    got = audit_tail(p, tail_bytes=16_384)
    assert got[0].data["i"] == 1999 and 50 < len(got) < 120
    assert [e.seq for e in got] == list(range(2000, 2000 - len(got), -1))
